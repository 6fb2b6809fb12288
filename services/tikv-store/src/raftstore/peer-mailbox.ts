/**
 * Work queued for one region until the next store loop turn. Bounded: a full mailbox drops raft messages
 * (raft retransmits) and refuses client work with ServerIsBusy. Reports from the store's own components
 * (snapshot status, unreachable peers) bypass the bound: they are few, and losing them could stall
 * replication to a follower.
 */
import type { metapb, raft_serverpb } from "#proto";
import type { ConfChange, Message, NodeId } from "#raft";
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
}

export type PeerTask =
  | { readonly kind: "raft"; readonly message: Message; readonly envelope: raft_serverpb.RaftMessage }
  | { readonly kind: "command"; readonly command: PendingCommand }
  | { readonly kind: "read-index"; readonly read: PendingRead }
  | { readonly kind: "transfer-leader"; readonly to: NodeId }
  | { readonly kind: "unreachable"; readonly to: NodeId }
  | { readonly kind: "snapshot-status"; readonly to: NodeId; readonly status: "finish" | "failure" }
  | { readonly kind: "campaign" };

export class PeerMailbox {
  private tasks: PeerTask[] = [];
  private boundedCount = 0;

  constructor(private readonly capacity: number) {}

  get length(): number {
    return this.tasks.length;
  }

  get isFull(): boolean {
    return this.boundedCount >= this.capacity;
  }

  /** Queues work from outside the store (messages, client requests); false when the mailbox is full. */
  offer(task: PeerTask): boolean {
    if (this.isFull) return false;
    this.boundedCount++;
    this.tasks.push(task);
    return true;
  }

  /** Queues a report from the store's own components, which must not be lost. */
  push(task: PeerTask): void {
    this.tasks.push(task);
  }

  takeAll(): PeerTask[] {
    const tasks = this.tasks;
    this.tasks = [];
    this.boundedCount = 0;
    return tasks;
  }
}
