/**
 * Per-region raft log and raft state in the raft engine, in the raft core's types (numbers for terms and
 * indexes; entries are stored as eraftpb.Entry bytes so the format is the documented wire message).
 *
 * Every write goes into a caller-provided WriteBatch: the store loop persists all regions' Readys with one
 * `RaftEngine.write(batch, { sync: true })` per turn.
 */

import { eraftpb, raft_serverpb } from "#proto";
import { type Entry, EntryType, entrySizeBytes, type HardState } from "#raft";
import type { WriteBatch } from "#rocksdb";
import { hex, parseRaftLogKey, raftLogKey, raftLogSpan, raftStateKey, regionRaftSpan } from "./keys.ts";
import { decodeStored, spanRange } from "./kv-engine.ts";
import { RAFT_ENGINE_COLUMN_FAMILY, type RaftEngine } from "./raft-engine.ts";

const CF = RAFT_ENGINE_COLUMN_FAMILY;
/** Longer spans are deleted as a range: reading their keys costs less than queuing that many deletes. */
const MAX_POINT_DELETES = 4096;

/** RaftLocalState in the raft core's number domain. */
export interface RaftState {
  readonly hardState: HardState;
  /** Index of the last entry in the log (the snapshot index when the log is empty after a snapshot). */
  readonly lastIndex: number;
}

/** The stored log is not contiguous where the caller expects it to be. */
export class RaftLogGapError extends Error {
  override readonly name = "RaftLogGapError";
  constructor(
    readonly regionId: bigint,
    readonly expectedIndex: number,
    readonly detail: string,
  ) {
    super(`region ${regionId}: raft log gap at index ${expectedIndex}: ${detail}`);
  }
}

export class RaftLogStore {
  constructor(readonly engine: RaftEngine) {}

  /**
   * Puts `entries` (consecutive indexes) and, when they replace a longer conflicting suffix, deletes the
   * stale entries after the new last index up to `previousLastIndex`. Returns the new last index.
   */
  appendEntries(
    batch: WriteBatch,
    regionId: bigint,
    entries: readonly Entry[],
    previousLastIndex: number,
  ): number {
    if (entries.length === 0) return previousLastIndex;
    const firstIndex = entries[0]!.index;
    if (firstIndex > previousLastIndex + 1) {
      throw new RaftLogGapError(regionId, previousLastIndex + 1, `append starts at ${firstIndex}`);
    }
    entries.forEach((entry, offset) => {
      if (entry.index !== firstIndex + offset) {
        throw new RaftLogGapError(regionId, firstIndex + offset, `entry ${offset} has index ${entry.index}`);
      }
      batch.put(CF, raftLogKey(regionId, entry.index), encodeEntry(entry));
    });
    const lastIndex = firstIndex + entries.length - 1;
    if (previousLastIndex > lastIndex)
      this.deleteEntries(batch, regionId, lastIndex + 1, previousLastIndex + 1);
    return lastIndex;
  }

  putRaftState(batch: WriteBatch, regionId: bigint, state: RaftState): void {
    batch.put(CF, raftStateKey(regionId), encodeRaftState(state));
  }

  async raftState(regionId: bigint): Promise<RaftState | undefined> {
    const key = raftStateKey(regionId);
    const bytes = await this.engine.db.get(CF, key);
    if (!bytes) return undefined;
    return decodeRaftState(decodeStored(raft_serverpb.RaftLocalState, bytes, "raft state", key), key);
  }

  /**
   * Entries [lo, hi) limited to `maxBytes` (per `entrySizeBytes`, at least one entry). Throws
   * RaftLogGapError when any entry in the range is missing: callers check bounds against their own
   * first/last index first.
   */
  async entries(
    regionId: bigint,
    lo: number,
    hi: number,
    maxBytes: number = Number.POSITIVE_INFINITY,
  ): Promise<Entry[]> {
    if (hi <= lo) return [];
    const span = raftLogSpan(regionId, lo, hi);
    const stored = await this.engine.db.scan(CF, { ...spanRange(span), limit: hi - lo });
    const entries: Entry[] = [];
    let totalBytes = 0;
    for (const { key, value } of stored) {
      const expected = lo + entries.length;
      const { index } = parseRaftLogKey(key);
      if (index !== expected) throw new RaftLogGapError(regionId, expected, `found ${index}`);
      const entry = decodeEntry(value, key);
      totalBytes += entrySizeBytes(entry);
      if (entries.length > 0 && totalBytes > maxBytes) return entries;
      entries.push(entry);
    }
    if (entries.length < hi - lo) {
      throw new RaftLogGapError(regionId, lo + entries.length, `log ends before ${hi}`);
    }
    return entries;
  }

  /** Index of the first stored entry of the region, or undefined when its log is empty. */
  async firstStoredIndex(regionId: bigint): Promise<number | undefined> {
    const [first] = await this.engine.db.scan(CF, { ...spanRange(raftLogSpan(regionId, 0)), limit: 1 });
    return first && parseRaftLogKey(first.key).index;
  }

  /**
   * Log GC: deletes entries before `index` (exclusive). `fromIndex`, the first index still stored, keeps
   * the delete from walking over the tombstones of earlier compactions.
   */
  deleteEntriesBefore(batch: WriteBatch, regionId: bigint, index: number, fromIndex = 0): void {
    if (index <= fromIndex) return;
    this.deleteEntries(batch, regionId, fromIndex, index);
  }

  /**
   * Deletes entries [from, to). A short known span is deleted key by key: a range delete would first read
   * the range to find its keys (the binding has no range tombstones in batches), on the hot write path.
   */
  private deleteEntries(batch: WriteBatch, regionId: bigint, from: number, to: number): void {
    if (from === 0 || to - from > MAX_POINT_DELETES) {
      batch.deleteRange(CF, raftLogKey(regionId, from), raftLogKey(regionId, to));
      return;
    }
    for (let index = from; index < to; index++) batch.delete(CF, raftLogKey(regionId, index));
  }

  /** Deletes every entry of the region (a snapshot replaces the whole log). */
  deleteAllEntries(batch: WriteBatch, regionId: bigint): void {
    const span = raftLogSpan(regionId, 0);
    batch.deleteRange(CF, span.start, span.end);
  }

  /** Deletes the region's log and raft state: a destroyed peer leaves nothing in the raft engine. */
  destroyRegion(batch: WriteBatch, regionId: bigint): void {
    const span = regionRaftSpan(regionId);
    batch.deleteRange(CF, span.start, span.end);
  }
}

export function encodeEntry(entry: Entry): Uint8Array {
  return eraftpb.Entry.encode({
    entryType: entry.type === EntryType.ConfChange ? eraftpb.EntryType.CONF_CHANGE : eraftpb.EntryType.NORMAL,
    term: BigInt(entry.term),
    index: BigInt(entry.index),
    data: entry.data,
    context: new Uint8Array(0),
  }).finish();
}

export function decodeEntry(bytes: Uint8Array, key: Uint8Array): Entry {
  const stored = decodeStored(eraftpb.Entry, bytes, "raft entry", key);
  return {
    term: toSafeNumber(stored.term, "entry term", key),
    index: toSafeNumber(stored.index, "entry index", key),
    type: stored.entryType === eraftpb.EntryType.CONF_CHANGE ? EntryType.ConfChange : EntryType.Normal,
    // A copy: the decoded bytes view the buffer the binding filled, which a long-lived entry cache would pin.
    data: Uint8Array.from(stored.data),
  };
}

function encodeRaftState(state: RaftState): Uint8Array {
  return raft_serverpb.RaftLocalState.encode({
    hardState: {
      term: BigInt(state.hardState.term),
      vote: BigInt(state.hardState.vote),
      commit: BigInt(state.hardState.commit),
    },
    lastIndex: BigInt(state.lastIndex),
  }).finish();
}

function decodeRaftState(stored: raft_serverpb.RaftLocalState, key: Uint8Array): RaftState {
  const hardState = stored.hardState ?? { term: 0n, vote: 0n, commit: 0n };
  return {
    hardState: {
      term: toSafeNumber(hardState.term, "hard state term", key),
      vote: toSafeNumber(hardState.vote, "hard state vote", key),
      commit: toSafeNumber(hardState.commit, "hard state commit", key),
    },
    lastIndex: toSafeNumber(stored.lastIndex, "last index", key),
  };
}

/** The raft core works in numbers; stored values beyond 2^53 mean corruption, not a real log. */
export function toSafeNumber(value: bigint, what: string, key?: Uint8Array): number {
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) {
    const where = key ? ` at key ${hex(key)}` : "";
    throw new RangeError(`${what} ${value}${where} exceeds Number.MAX_SAFE_INTEGER`);
  }
  return Number(value);
}
