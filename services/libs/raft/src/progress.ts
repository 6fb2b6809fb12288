import { Inflights } from "./inflights.ts";

export enum ProgressState {
  /** The leader does not know where the follower's log matches: one append at a time, awaiting replies. */
  Probe,
  /** The follower's log matches: stream appends optimistically, bounded by the inflight window. */
  Replicate,
  /** The follower needs a snapshot; appends pause until it is installed or reported failed. */
  Snapshot,
}

/**
 * The leader's view of one follower: `match` is the last index known replicated, `next` the next index to
 * send (match < next always).
 */
export class Progress {
  match = 0;
  next: number;
  state = ProgressState.Probe;
  /** In Snapshot state: index of the snapshot being sent. */
  pendingSnapshot = 0;
  /** Heard from since the last check-quorum round (the leader's own progress is always active). */
  recentActive = false;
  /** In Probe state: an append is outstanding; in Replicate: the inflight window is full. */
  paused = false;
  /** Highest commit index sent to the follower, to know when it may lack the latest one. */
  sentCommit = 0;
  /** Highest heartbeat round the follower acknowledged (confirms reads and extends the lease). */
  ackedHeartbeatRound = 0;
  readonly inflights: Inflights;

  constructor(
    next: number,
    maxInflightMessages: number,
    maxInflightBytes: number,
    public isLearner: boolean,
  ) {
    this.next = next;
    this.inflights = new Inflights(maxInflightMessages, maxInflightBytes);
  }

  private resetState(state: ProgressState): void {
    this.paused = false;
    this.pendingSnapshot = 0;
    this.state = state;
    this.inflights.reset();
  }

  becomeProbe(): void {
    if (this.state === ProgressState.Snapshot) {
      // The follower may have installed the snapshot: resume probing after it rather than before.
      const pendingSnapshot = this.pendingSnapshot;
      this.resetState(ProgressState.Probe);
      this.next = Math.max(this.match + 1, pendingSnapshot + 1);
    } else {
      this.resetState(ProgressState.Probe);
      this.next = this.match + 1;
    }
    this.sentCommit = Math.min(this.sentCommit, this.next - 1);
  }

  becomeReplicate(): void {
    this.resetState(ProgressState.Replicate);
    this.next = this.match + 1;
  }

  becomeSnapshot(snapshotIndex: number): void {
    this.resetState(ProgressState.Snapshot);
    this.pendingSnapshot = snapshotIndex;
    this.next = snapshotIndex + 1;
    this.sentCommit = snapshotIndex;
  }

  /** Accounts for an append of `entryCount` entries (ending at next - 1 + entryCount) just sent. */
  sentEntries(entryCount: number, sizeBytes: number): void {
    if (this.state === ProgressState.Replicate) {
      if (entryCount > 0) {
        this.next += entryCount;
        this.inflights.add(this.next - 1, sizeBytes);
      }
      this.paused = this.inflights.full();
    } else if (this.state === ProgressState.Probe) {
      if (entryCount > 0) this.paused = true;
    }
  }

  sentCommitIndex(commit: number): void {
    this.sentCommit = commit;
  }

  /** Whether the follower may lack commit index `commit` although it has (or is sent) the entries. */
  canBumpCommit(commit: number): boolean {
    return commit > this.sentCommit && this.sentCommit < this.next - 1;
  }

  /** The follower acknowledged entries up to `index`; returns whether that is news. */
  maybeUpdate(index: number): boolean {
    if (index <= this.match) return false;
    this.match = index;
    if (this.next < index + 1) this.next = index + 1;
    this.paused = false;
    return true;
  }

  /**
   * The follower rejected an append at `rejected`, hinting that its log may match up to `matchHint`.
   * Returns false for a stale rejection (nothing changes).
   */
  maybeDecreaseTo(rejected: number, matchHint: number): boolean {
    if (this.state === ProgressState.Replicate) {
      // Appends are pipelined; a rejection at or below match answers an older append.
      if (rejected <= this.match) return false;
      this.next = this.match + 1;
      this.sentCommit = Math.min(this.sentCommit, this.next - 1);
      return true;
    }
    // Probes are sent one at a time from next - 1; any other rejection is stale.
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, matchHint + 1), this.match + 1);
    this.sentCommit = Math.min(this.sentCommit, this.next - 1);
    this.paused = false;
    return true;
  }

  isPaused(): boolean {
    return this.state === ProgressState.Snapshot || this.paused;
  }
}
