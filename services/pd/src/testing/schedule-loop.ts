/**
 * Test-only: drives a coordinator against a SimulatedCluster the way the pd server and the stores would
 * together. Each round: time passes, pd runs its checkers and schedulers, every region leader heartbeats
 * and carries out the reply it gets, and new learners receive their snapshots.
 */
import type { Coordinator } from "../schedule/coordinator.ts";
import type { ManualClock } from "./manual-clock.ts";
import type { SimulatedCluster } from "./simulated-cluster.ts";

export interface LoopOptions {
  readonly coordinator: Coordinator;
  readonly cluster: SimulatedCluster;
  readonly clock: ManualClock;
  readonly maxRounds: number;
  /** Virtual time per round [1 s]. */
  readonly roundMs?: number;
  /** Whether new learners catch up between rounds [true]. */
  readonly learnersCatchUp?: boolean;
  /** Called after each scheduling pass, before the heartbeats; for assertions on running operators. */
  readonly afterSchedule?: (round: number) => void;
}

export interface LoopResult {
  /** Rounds run, the last one included. */
  readonly rounds: number;
  /** True when a scheduling pass found nothing to do. */
  readonly stable: boolean;
  /** Heartbeat replies the stores carried out. */
  readonly appliedReplies: number;
}

export async function runSchedulingLoop(options: LoopOptions): Promise<LoopResult> {
  const { coordinator, cluster, clock } = options;
  let appliedReplies = 0;
  for (let round = 1; round <= options.maxRounds; round++) {
    clock.advance(options.roundMs ?? 1000);
    await coordinator.runOnce();
    options.afterSchedule?.(round);
    if (coordinator.operators().length === 0) return { rounds: round, stable: true, appliedReplies };
    appliedReplies += heartbeatAll(coordinator, cluster);
    if (options.learnersCatchUp ?? true) cluster.catchUpLearners();
  }
  return { rounds: options.maxRounds, stable: false, appliedReplies };
}

/** Every region leader reports once and applies its reply; returns how many replies were carried out. */
export function heartbeatAll(coordinator: Coordinator, cluster: SimulatedCluster): number {
  let applied = 0;
  for (const regionId of cluster.regionIds()) {
    const region = cluster.heartbeat(regionId);
    if (region === undefined) continue;
    const reply = coordinator.onRegionHeartbeat(region);
    if (reply !== undefined && cluster.apply(reply).applied) applied++;
  }
  return applied;
}
