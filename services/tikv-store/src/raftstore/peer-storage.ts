/**
 * The raft core's `Storage` for one region: what is durable in the raft engine (hard state, log) plus the
 * truncated state from the apply state. The raft core reads storage synchronously, so every entry not yet
 * compacted is kept in memory as well (log GC bounds how many); the store loop updates this object only
 * after the raft engine write that made the change durable.
 */
import type { metapb } from "#proto";
import {
  CompactedError,
  type ConfState,
  type Entry,
  entrySizeBytes,
  type HardState,
  type InitialState,
  type Snapshot,
  SnapshotTemporarilyUnavailableError,
  type Storage,
  UnavailableError,
} from "#raft";

/** What the storage asks of its peer: the region epoch now, and a snapshot generated in the background. */
export interface PeerStorageHooks {
  /** Asks for a snapshot to be generated; it arrives later via `offerSnapshot`. */
  readonly onSnapshotWanted: () => void;
  /** The region's epoch as of the applied index. */
  readonly currentEpoch: () => metapb.RegionEpoch;
}

/** A generated snapshot and the epoch of the region it holds. */
interface OfferedSnapshot {
  readonly snapshot: Snapshot;
  readonly epoch: metapb.RegionEpoch;
}

/** A broken assumption about the log: continuing could serve or lose the wrong entries. */
export class PeerStorageInvariantError extends Error {
  override readonly name = "PeerStorageInvariantError";
}

export interface PeerStorageState {
  readonly hardState: HardState;
  /** The configuration as of the applied index (from the region meta). */
  readonly confState: ConfState;
  /** The last compacted entry: the log holds (truncatedIndex, lastIndex]. */
  readonly truncatedIndex: number;
  readonly truncatedTerm: number;
  /** Every entry after the truncated index, in order. */
  readonly entries: readonly Entry[];
}

export class PeerStorage implements Storage {
  hardState: HardState;
  confState: ConfState;
  private truncatedIndexValue: number;
  private truncatedTermValue: number;
  private log: Entry[];
  private logSizeBytes = 0;
  /** The latest generated snapshot the leader may send, if any. */
  private availableSnapshot: OfferedSnapshot | undefined;

  constructor(
    state: PeerStorageState,
    private readonly hooks: PeerStorageHooks,
  ) {
    this.hardState = state.hardState;
    this.confState = state.confState;
    this.truncatedIndexValue = state.truncatedIndex;
    this.truncatedTermValue = state.truncatedTerm;
    this.log = [...state.entries];
    for (let offset = 0; offset < this.log.length; offset++) {
      const entry = this.log[offset]!;
      if (entry.index !== state.truncatedIndex + 1 + offset) {
        throw new PeerStorageInvariantError(
          `entry ${offset} has index ${entry.index}, expected ${state.truncatedIndex + 1 + offset}`,
        );
      }
      this.logSizeBytes += entry.data.byteLength;
    }
  }

  initialState(): InitialState {
    return { hardState: this.hardState, confState: this.confState };
  }

  firstIndex(): number {
    return this.truncatedIndexValue + 1;
  }

  lastIndex(): number {
    return this.truncatedIndexValue + this.log.length;
  }

  get truncatedIndex(): number {
    return this.truncatedIndexValue;
  }

  get truncatedTerm(): number {
    return this.truncatedTermValue;
  }

  /** Payload bytes of the entries held: a log GC trigger. */
  get sizeBytes(): number {
    return this.logSizeBytes;
  }

  get entryCount(): number {
    return this.log.length;
  }

  term(index: number): number {
    if (index === this.truncatedIndexValue) return this.truncatedTermValue;
    if (index < this.truncatedIndexValue) throw new CompactedError(index, this.firstIndex());
    if (index > this.lastIndex()) throw new UnavailableError(index, this.lastIndex());
    return this.log[index - this.truncatedIndexValue - 1]!.term;
  }

  entries(lo: number, hi: number, maxBytes: number): Entry[] {
    if (lo <= this.truncatedIndexValue) throw new CompactedError(lo, this.firstIndex());
    if (hi > this.lastIndex() + 1) throw new UnavailableError(hi - 1, this.lastIndex());
    if (hi <= lo) return [];
    const start = lo - this.truncatedIndexValue - 1;
    const end = hi - this.truncatedIndexValue - 1;
    // At least one entry, even an oversized one, so replication always makes progress.
    let count = 1;
    let totalBytes = entrySizeBytes(this.log[start]!);
    while (start + count < end) {
      totalBytes += entrySizeBytes(this.log[start + count]!);
      if (totalBytes > maxBytes) break;
      count++;
    }
    return this.log.slice(start, start + count);
  }

  snapshot(): Snapshot {
    const offered = this.availableSnapshot;
    if (offered !== undefined && this.isUsable(offered)) return offered.snapshot;
    this.availableSnapshot = undefined;
    this.hooks.onSnapshotWanted();
    throw new SnapshotTemporarilyUnavailableError();
  }

  /**
   * A snapshot older than the log's start would leave the follower needing entries nobody has; one of an
   * older epoch (TiKV's validate_snap) describes a membership or range the region has left: a peer added
   * since is missing from it and refuses it, so it would never catch up.
   */
  private isUsable({ snapshot, epoch }: OfferedSnapshot): boolean {
    const current = this.hooks.currentEpoch();
    return (
      snapshot.metadata.index >= this.truncatedIndexValue &&
      epoch.confVer >= current.confVer &&
      epoch.version >= current.version
    );
  }

  /** A generated snapshot of the region at `epoch` is ready to be handed to raft. */
  offerSnapshot(snapshot: Snapshot, epoch: metapb.RegionEpoch): void {
    this.availableSnapshot = { snapshot, epoch };
  }

  /** The offered snapshot is going away (released, or the region changed). */
  forgetSnapshot(): void {
    this.availableSnapshot = undefined;
  }

  /** Entries of a durable Ready: replaces any conflicting suffix from the first new index on. */
  append(entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    const first = entries[0]!.index;
    if (first <= this.truncatedIndexValue || first > this.lastIndex() + 1) {
      throw new PeerStorageInvariantError(
        `append at ${first} outside (${this.truncatedIndexValue}, ${this.lastIndex() + 1}]`,
      );
    }
    const keep = first - this.truncatedIndexValue - 1;
    for (let offset = keep; offset < this.log.length; offset++) {
      this.logSizeBytes -= this.log[offset]!.data.byteLength;
    }
    this.log.length = keep;
    for (const entry of entries) {
      this.log.push(entry);
      this.logSizeBytes += entry.data.byteLength;
    }
  }

  /** A durable snapshot replaced the whole log. */
  installSnapshot(index: number, term: number, confState: ConfState): void {
    this.truncatedIndexValue = index;
    this.truncatedTermValue = term;
    this.log = [];
    this.logSizeBytes = 0;
    this.confState = confState;
  }

  /** Log GC: forgets entries up to and including `index` (they were deleted from the raft engine). */
  compactTo(index: number): void {
    if (index <= this.truncatedIndexValue) return;
    if (index > this.lastIndex()) {
      throw new PeerStorageInvariantError(`compact to ${index} beyond the last index ${this.lastIndex()}`);
    }
    const term = this.term(index);
    const removed = this.log.splice(0, index - this.truncatedIndexValue);
    for (const entry of removed) this.logSizeBytes -= entry.data.byteLength;
    this.truncatedIndexValue = index;
    this.truncatedTermValue = term;
  }
}
