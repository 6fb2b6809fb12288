import type { ConfState, HardState, NodeId, SoftState } from "./types.ts";

export type ProgressStateName = "probe" | "replicate" | "snapshot";

/** The leader's view of one member. */
export interface ProgressStatus {
  readonly match: number;
  readonly next: number;
  readonly state: ProgressStateName;
  readonly isLearner: boolean;
  readonly paused: boolean;
  readonly recentActive: boolean;
  readonly pendingSnapshot: number;
  readonly inflightMessages: number;
}

export interface Status {
  readonly id: NodeId;
  readonly hardState: HardState;
  readonly softState: SoftState;
  readonly applied: number;
  readonly lastIndex: number;
  readonly confState: ConfState;
  /** Per member, only on the leader. */
  readonly progress: ReadonlyMap<NodeId, ProgressStatus> | undefined;
  readonly leadTransferee: NodeId;
  /** On the leader with lease reads: ticks of lease left (0 when expired). */
  readonly leaseRemainingTicks: number;
}
