import type { ConfState, Entry, HardState, Snapshot } from "./types.ts";

/** The requested index is below `firstIndex()`: it was compacted away into a snapshot. */
export class CompactedError extends Error {
  override readonly name = "CompactedError";
  constructor(
    readonly index: number,
    readonly firstIndex: number,
  ) {
    super(`log index ${index} is compacted (first index ${firstIndex})`);
  }
}

/** The requested index is beyond `lastIndex()`. */
export class UnavailableError extends Error {
  override readonly name = "UnavailableError";
  constructor(
    readonly index: number,
    readonly lastIndex: number,
  ) {
    super(`log index ${index} is unavailable (last index ${lastIndex})`);
  }
}

/** The snapshot is being generated; the leader retries on a later heartbeat. */
export class SnapshotTemporarilyUnavailableError extends Error {
  override readonly name = "SnapshotTemporarilyUnavailableError";
  constructor() {
    super("snapshot is temporarily unavailable");
  }
}

/** A snapshot older than the one already held was offered. */
export class SnapshotOutOfDateError extends Error {
  override readonly name = "SnapshotOutOfDateError";
  constructor(
    readonly requestedIndex: number,
    readonly currentIndex: number,
  ) {
    super(`snapshot at index ${requestedIndex} is older than the current one at ${currentIndex}`);
  }
}

export interface InitialState {
  readonly hardState: HardState;
  readonly confState: ConfState;
}

/**
 * A read-only view of stable storage: what raft reads on restart and when serving appends and snapshots.
 * Writes (appending a Ready's entries, installing its snapshot, saving its hard state) are the application's
 * and happen outside this interface.
 *
 * Every method may throw CompactedError / UnavailableError as documented; any other error is fatal.
 */
export interface Storage {
  /** The durable hard state and the configuration as of the applied index the application reports. */
  initialState(): InitialState;
  /**
   * Entries in [lo, hi), limited to `maxBytes` (sizes per `entrySizeBytes`) but always at least one entry.
   * Throws CompactedError when lo < firstIndex and UnavailableError when hi > lastIndex + 1. Raft never
   * modifies the returned array, so an implementation may return one it keeps (an entry cache).
   */
  entries(lo: number, hi: number, maxBytes: number): Entry[];
  /** Term of `index`, valid for firstIndex - 1 ..= lastIndex (the snapshot's own index included). */
  term(index: number): number;
  /** Index of the first entry held (the snapshot index + 1). */
  firstIndex(): number;
  /** Index of the last entry held; firstIndex - 1 when empty. */
  lastIndex(): number;
  /** The most recent snapshot; may throw SnapshotTemporarilyUnavailableError. */
  snapshot(): Snapshot;
}
