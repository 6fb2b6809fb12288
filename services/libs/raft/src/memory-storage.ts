import {
  CompactedError,
  type InitialState,
  SnapshotOutOfDateError,
  type Storage,
  UnavailableError,
} from "./storage.ts";
import {
  type ConfState,
  countWithinSize,
  EMPTY_BYTES,
  type Entry,
  type HardState,
  type Snapshot,
} from "./types.ts";

/** Compaction past the latest snapshot would leave entries that neither the log nor a snapshot holds. */
export class CompactionBeyondSnapshotError extends Error {
  override readonly name = "CompactionBeyondSnapshotError";
  constructor(
    readonly index: number,
    readonly snapshotIndex: number,
  ) {
    super(`cannot compact up to ${index}: the latest snapshot only covers up to ${snapshotIndex}`);
  }
}

const EMPTY_CONF_STATE: ConfState = { voters: [], learners: [] };

/**
 * Storage held in memory, for tests and simulations. It plays the part of the durable disk: the
 * application appends each Ready's entries, installs its snapshot and saves its hard state here, and a
 * restarted node is built from what it holds.
 */
export class MemoryStorage implements Storage {
  private hardState: HardState = { term: 0, vote: 0, commit: 0 };
  private confState: ConfState = EMPTY_CONF_STATE;
  private latestSnapshot: Snapshot = {
    metadata: { index: 0, term: 0, confState: EMPTY_CONF_STATE },
    data: EMPTY_BYTES,
  };
  /** Index and term of the last entry compacted away; `log[0]` holds index `compactedIndex + 1`. */
  private compactedIndex = 0;
  private compactedTerm = 0;
  private log: Entry[] = [];

  initialState(): InitialState {
    return { hardState: this.hardState, confState: this.confState };
  }

  setHardState(state: HardState): void {
    this.hardState = state;
  }

  /**
   * Records the configuration the application has applied, so a restart with the application's applied
   * index sees the matching configuration (the snapshot's one is older once conf changes were applied).
   */
  setConfState(state: ConfState): void {
    this.confState = state;
  }

  firstIndex(): number {
    return this.compactedIndex + 1;
  }

  lastIndex(): number {
    return this.compactedIndex + this.log.length;
  }

  term(index: number): number {
    if (index === this.compactedIndex) return this.compactedTerm;
    if (index < this.compactedIndex) throw new CompactedError(index, this.firstIndex());
    if (index > this.lastIndex()) throw new UnavailableError(index, this.lastIndex());
    return this.log[index - this.compactedIndex - 1]!.term;
  }

  entries(lo: number, hi: number, maxBytes: number): Entry[] {
    if (lo <= this.compactedIndex) throw new CompactedError(lo, this.firstIndex());
    if (hi > this.lastIndex() + 1) throw new UnavailableError(hi - 1, this.lastIndex());
    const start = lo - this.compactedIndex - 1;
    const end = hi - this.compactedIndex - 1;
    return this.log.slice(start, start + countWithinSize(this.log, start, end, maxBytes));
  }

  snapshot(): Snapshot {
    return this.latestSnapshot;
  }

  /**
   * Appends entries, replacing any existing suffix from the first new index on (a new leader may overwrite
   * uncommitted entries). Entries at or below the compacted index are ignored.
   */
  append(entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    const first = entries[0]!.index;
    const lastNew = first + entries.length - 1;
    if (lastNew <= this.compactedIndex) return;
    if (first > this.lastIndex() + 1) {
      throw new UnavailableError(first, this.lastIndex());
    }
    const skip = Math.max(0, this.compactedIndex + 1 - first);
    this.log.length = first + skip - this.compactedIndex - 1;
    for (let i = skip; i < entries.length; i++) this.log.push(entries[i]!);
  }

  /** Installs a snapshot received from the leader, discarding the whole log. */
  applySnapshot(snapshot: Snapshot): void {
    const index = snapshot.metadata.index;
    if (index < this.latestSnapshot.metadata.index) {
      throw new SnapshotOutOfDateError(index, this.latestSnapshot.metadata.index);
    }
    this.latestSnapshot = snapshot;
    this.confState = snapshot.metadata.confState;
    this.compactedIndex = index;
    this.compactedTerm = snapshot.metadata.term;
    this.log = [];
  }

  /** Records a snapshot of the application state as of `index` (which must be in the log). */
  createSnapshot(index: number, confState: ConfState, data: Uint8Array): Snapshot {
    if (index <= this.latestSnapshot.metadata.index) {
      throw new SnapshotOutOfDateError(index, this.latestSnapshot.metadata.index);
    }
    if (index > this.lastIndex()) throw new UnavailableError(index, this.lastIndex());
    this.latestSnapshot = { metadata: { index, term: this.term(index), confState }, data };
    return this.latestSnapshot;
  }

  /**
   * Discards entries up to and including `index`. A snapshot covering `index` must exist first, otherwise a
   * lagging follower could be offered neither the entries nor a snapshot that replaces them.
   */
  compact(index: number): void {
    if (index <= this.compactedIndex) throw new CompactedError(index, this.firstIndex());
    if (index > this.lastIndex()) throw new UnavailableError(index, this.lastIndex());
    if (index > this.latestSnapshot.metadata.index) {
      throw new CompactionBeyondSnapshotError(index, this.latestSnapshot.metadata.index);
    }
    const term = this.term(index);
    this.log.splice(0, index - this.compactedIndex);
    this.compactedIndex = index;
    this.compactedTerm = term;
  }
}
