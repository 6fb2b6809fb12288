import type { NodeId } from "./types.ts";

/** A ReadIndex request waiting for the leader to confirm it is still the leader. */
export interface PendingRead {
  /** The node that asked (the leader itself for local requests). */
  readonly requester: NodeId;
  readonly context: Uint8Array;
  /** The leader's commit index when the request arrived: the answer once confirmed. */
  readonly index: number;
  /** A quorum must acknowledge this heartbeat round (sent after the request arrived) to confirm it. */
  readonly requiredRound: number;
}

/**
 * ReadIndex requests in arrival order, waiting for a heartbeat round acknowledged by a quorum. Rounds only
 * grow, so a confirmed round releases a prefix of the queue. Bounded: when full, new requests are refused
 * and their callers time out and retry.
 */
export class ReadIndexQueue {
  private reads: PendingRead[] = [];
  private head = 0;

  constructor(readonly capacity: number) {}

  get size(): number {
    return this.reads.length - this.head;
  }

  /** Returns false (and drops the read) when the queue is full. */
  add(read: PendingRead): boolean {
    if (this.size >= this.capacity) return false;
    this.reads.push(read);
    return true;
  }

  /** Removes and returns the reads whose required round is at or below `confirmedRound`. */
  releaseConfirmed(confirmedRound: number): PendingRead[] {
    const released: PendingRead[] = [];
    while (this.head < this.reads.length && this.reads[this.head]!.requiredRound <= confirmedRound) {
      released.push(this.reads[this.head]!);
      this.head++;
    }
    if (this.head === this.reads.length) {
      this.reads = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.reads.length) {
      // Compact the consumed prefix now and then instead of shifting on every release.
      this.reads = this.reads.slice(this.head);
      this.head = 0;
    }
    return released;
  }

  clear(): void {
    this.reads = [];
    this.head = 0;
  }
}
