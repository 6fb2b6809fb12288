/**
 * Work queued for one region until a store loop turn takes it. Bounded: a full mailbox drops raft messages
 * (raft retransmits) and refuses client work with ServerIsBusy. Reports from the store's own components
 * (snapshot status, unreachable peers, the results of a peer's background jobs) bypass the bound: each
 * comes from work the loop started and bounded itself (one job of a kind per peer), and losing one could
 * stall replication or leave a job marked running forever.
 */
import type { metapb, raft_serverpb } from "#proto";
import type { ConfChange, Message, NodeId } from "#raft";
import type { RegionSizeEstimate } from "../engine/kv-engine.ts";
import type { GeneratedSnapshot } from "../snapshot/snapshot-generator.ts";
import type { PeerJob } from "./peer.ts";
import type { OutgoingSnapshot } from "./peer-snapshot.ts";
import type { Proposal } from "./proposal.ts";
import type { PendingRead } from "./read-path.ts";
import type { EpochCheck } from "./region-epoch.ts";

/** A command waiting to be proposed: already encoded, checked again when it is proposed. */
export interface PendingCommand {
  readonly proposal: Proposal;
  /** The encoded RaftCmdRequest (or, for a conf change, the change whose context it is). */
  readonly data: Uint8Array;
  readonly confChange: ConfChange | undefined;
  /** The epoch the command was built against and which parts of it must still match. */
  readonly epoch: metapb.RegionEpoch;
  readonly epochCheck: EpochCheck;
  /** When set, the command is refused unless the leader is still in this term (see RegionReader.term). */
  readonly term?: number;
}

export type PeerTask =
  | { readonly kind: "raft"; readonly message: Message; readonly envelope: raft_serverpb.RaftMessage }
  | { readonly kind: "command"; readonly command: PendingCommand }
  | { readonly kind: "read-index"; readonly read: PendingRead }
  | { readonly kind: "transfer-leader"; readonly to: NodeId }
  | { readonly kind: "unreachable"; readonly to: NodeId }
  | {
      readonly kind: "snapshot-status";
      readonly to: NodeId;
      readonly status: "finish" | "failure";
      /** The snapshot whose send ended (undefined when none was sent). */
      readonly sent: OutgoingSnapshot | undefined;
    }
  | { readonly kind: "campaign" }
  /** The peer must go: it was removed, replaced by a newer peer, or told so by a member or pd. */
  | { readonly kind: "destroy"; readonly reason: string }
  /** A snapshot generation ended (undefined: it failed and was logged). */
  | { readonly kind: "snapshot-generated"; readonly generated: GeneratedSnapshot | undefined }
  | { readonly kind: "region-measured"; readonly estimate: RegionSizeEstimate }
  | { readonly kind: "job-done"; readonly job: PeerJob };

interface QueuedTask {
  readonly task: PeerTask;
  /** Counts against the capacity (work from outside the store). */
  readonly bounded: boolean;
}

export class PeerMailbox {
  private queue: QueuedTask[] = [];
  private head = 0;
  private boundedCount = 0;

  constructor(private readonly capacity: number) {}

  get length(): number {
    return this.queue.length - this.head;
  }

  get isFull(): boolean {
    return this.boundedCount >= this.capacity;
  }

  /** Queues work from outside the store (messages, client requests); false when the mailbox is full. */
  offer(task: PeerTask): boolean {
    if (this.isFull) return false;
    this.boundedCount++;
    this.queue.push({ task, bounded: true });
    return true;
  }

  /** Queues a report from the store's own components, which must not be lost. */
  push(task: PeerTask): void {
    this.queue.push({ task, bounded: false });
  }

  /** The oldest `max` tasks (all when fewer), in arrival order. */
  take(max: number): PeerTask[] {
    const end = Math.min(this.queue.length, this.head + max);
    const taken: PeerTask[] = [];
    for (let index = this.head; index < end; index++) {
      const queued = this.queue[index]!;
      if (queued.bounded) this.boundedCount--;
      taken.push(queued.task);
    }
    this.head = end;
    if (this.head === this.queue.length) {
      this.queue = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    return taken;
  }

  takeAll(): PeerTask[] {
    return this.take(this.length);
  }
}
