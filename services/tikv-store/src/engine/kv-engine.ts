/**
 * The kv engine: region data (CFs default, lock, write) and per-region meta (CF raft) in one RocksDB, so a
 * region's apply state is written in the same atomic batch as the data it covers.
 *
 * Writes go into caller-provided WriteBatches: the store loop decides what shares a batch and when to sync.
 * Reads take any `RocksReader` (the live database or a consistent `Snapshot`).
 */
import { join } from "node:path";
import { type metapb, raft_serverpb } from "#proto";
import { openRocksDb, type RocksDb, type RocksReader, type Snapshot, WriteBatch } from "#rocksdb";
import {
  applyStateKey,
  hex,
  type KeySpan,
  parseRegionMetaKey,
  REGION_META_SPAN,
  rawDataKey,
  rawDataSpan,
  rawUserKey,
  regionDataSpans,
  regionStateKey,
  STORE_IDENT_KEY,
} from "./keys.ts";

export const CF_DEFAULT = "default";
export const CF_LOCK = "lock";
export const CF_WRITE = "write";
export const CF_RAFT = "raft";
/** Column families holding region data: cleared, snapshotted and measured together. */
export const DATA_COLUMN_FAMILIES = [CF_DEFAULT, CF_LOCK, CF_WRITE] as const;
export type DataColumnFamily = (typeof DATA_COLUMN_FAMILIES)[number];
export const KV_COLUMN_FAMILIES = [...DATA_COLUMN_FAMILIES, CF_RAFT] as const;

/** Raw scans materialise their result, so they are capped whatever the caller asks. */
export const MAX_RAW_SCAN_LIMIT = 100_000;

/** The kv engine holds another cluster's or store's data. */
export class StoreIdentMismatchError extends Error {
  override readonly name = "StoreIdentMismatchError";
  constructor(
    readonly existing: raft_serverpb.StoreIdent,
    readonly requested: raft_serverpb.StoreIdent,
  ) {
    super(
      `kv engine belongs to cluster ${existing.clusterId} store ${existing.storeId}, ` +
        `not cluster ${requested.clusterId} store ${requested.storeId}`,
    );
  }
}

/** Stored bytes that do not decode: the engine is corrupt or was written by something else. */
export class EngineCorruptionError extends Error {
  override readonly name = "EngineCorruptionError";
  constructor(
    readonly what: string,
    readonly keyHex: string,
    cause: unknown,
  ) {
    super(
      `cannot decode ${what} at key ${keyHex}: ${cause instanceof Error ? cause.message : String(cause)}`,
      {
        cause,
      },
    );
  }
}

export interface PersistedRegion {
  readonly regionId: bigint;
  readonly regionState: raft_serverpb.RegionLocalState;
  /** Absent for a region created by a split or a peer creation that has not applied anything yet. */
  readonly applyState: raft_serverpb.RaftApplyState | undefined;
}

export interface RawPair {
  readonly key: Uint8Array;
  /** Empty when the scan was key-only. */
  readonly value: Uint8Array;
}

export interface RawScanOptions {
  /** Inclusive user key; empty = from the first key. */
  readonly startKey: Uint8Array;
  /** Exclusive user key; empty = unbounded. */
  readonly endKey: Uint8Array;
  /** At most this many pairs (capped at MAX_RAW_SCAN_LIMIT). */
  readonly limit: number;
  /** Largest key first; the range is still [startKey, endKey). */
  readonly reverse?: boolean;
  readonly keyOnly?: boolean;
}

export interface RegionSizeEstimate {
  /** Key + value bytes of every data CF in the region's data range (up to where counting stopped). */
  readonly sizeBytes: number;
  readonly keys: number;
  /**
   * User keys at which the region can be split so each part holds about `splitSizeBytes` / `splitKeys`;
   * raw keys only (transactional data is not measured for split keys yet).
   */
  readonly splitKeys: readonly Uint8Array[];
  /** Counting stopped at `maxKeys` before the end of the region. */
  readonly truncated: boolean;
}

export interface RegionSizeOptions {
  /** Emit a split key each time this many bytes were counted since the previous split key. */
  readonly splitSizeBytes: number;
  /** Emit a split key each time this many keys were counted since the previous split key. */
  readonly splitKeys: number;
  /** Bounds the scan: stop after this many keys. */
  readonly maxKeys: number;
  /** Bounds the result. */
  readonly maxSplitKeys: number;
}

export class KvEngine {
  private constructor(readonly db: RocksDb) {}

  /** Opens (creating if missing) the kv RocksDB at `<dataDirectory>/kv`. */
  static async open(dataDirectory: string): Promise<KvEngine> {
    const db = await openRocksDb({
      path: join(dataDirectory, "kv"),
      columnFamilies: KV_COLUMN_FAMILIES,
      createIfMissing: true,
    });
    return new KvEngine(db);
  }

  write(batch: WriteBatch, options: { readonly sync: boolean }): Promise<void> {
    return this.db.write(batch, options);
  }

  /** A consistent view of all column families; release it when done. */
  snapshot(): Snapshot {
    return this.db.snapshot();
  }

  close(): Promise<void> {
    return this.db.close();
  }

  async storeIdent(): Promise<raft_serverpb.StoreIdent | undefined> {
    const bytes = await this.db.get(CF_RAFT, STORE_IDENT_KEY);
    return bytes && decodeStored(raft_serverpb.StoreIdent, bytes, "store ident", STORE_IDENT_KEY);
  }

  /** Writes the ident (synced) unless it is already there; an existing different ident is an error. */
  async putStoreIdentOnce(ident: raft_serverpb.StoreIdent): Promise<void> {
    const existing = await this.storeIdent();
    if (existing) {
      if (existing.clusterId !== ident.clusterId || existing.storeId !== ident.storeId) {
        throw new StoreIdentMismatchError(existing, ident);
      }
      return;
    }
    const batch = new WriteBatch().put(
      CF_RAFT,
      STORE_IDENT_KEY,
      raft_serverpb.StoreIdent.encode(ident).finish(),
    );
    await this.db.write(batch, { sync: true });
  }

  /** Every region with a RegionLocalState (tombstones included), with its apply state; for store start-up. */
  async loadRegions(): Promise<PersistedRegion[]> {
    const states = new Map<bigint, raft_serverpb.RegionLocalState>();
    const applies = new Map<bigint, raft_serverpb.RaftApplyState>();
    for await (const { key, value } of this.db.iterate(CF_RAFT, spanRange(REGION_META_SPAN))) {
      const { regionId, kind } = parseRegionMetaKey(key);
      if (kind === "region-state") {
        states.set(regionId, decodeStored(raft_serverpb.RegionLocalState, value, "region state", key));
      } else {
        applies.set(regionId, decodeStored(raft_serverpb.RaftApplyState, value, "apply state", key));
      }
    }
    return [...states].map(([regionId, regionState]) => ({
      regionId,
      regionState,
      applyState: applies.get(regionId),
    }));
  }
}

// ---- region meta ---------------------------------------------------------------------------------------

export async function readRegionState(
  reader: RocksReader,
  regionId: bigint,
): Promise<raft_serverpb.RegionLocalState | undefined> {
  const key = regionStateKey(regionId);
  const bytes = await reader.get(CF_RAFT, key);
  return bytes && decodeStored(raft_serverpb.RegionLocalState, bytes, "region state", key);
}

export async function readApplyState(
  reader: RocksReader,
  regionId: bigint,
): Promise<raft_serverpb.RaftApplyState | undefined> {
  const key = applyStateKey(regionId);
  const bytes = await reader.get(CF_RAFT, key);
  return bytes && decodeStored(raft_serverpb.RaftApplyState, bytes, "apply state", key);
}

export function putRegionState(
  batch: WriteBatch,
  regionId: bigint,
  state: raft_serverpb.RegionLocalState,
): void {
  batch.put(CF_RAFT, regionStateKey(regionId), raft_serverpb.RegionLocalState.encode(state).finish());
}

export function putApplyState(
  batch: WriteBatch,
  regionId: bigint,
  state: raft_serverpb.RaftApplyState,
): void {
  batch.put(CF_RAFT, applyStateKey(regionId), raft_serverpb.RaftApplyState.encode(state).finish());
}

/** For a destroyed peer: the tombstone region state stays (it blocks re-creation), the apply state goes. */
export function deleteApplyState(batch: WriteBatch, regionId: bigint): void {
  batch.delete(CF_RAFT, applyStateKey(regionId));
}

// ---- raw data ------------------------------------------------------------------------------------------

export function rawPut(batch: WriteBatch, userKey: Uint8Array, value: Uint8Array): void {
  batch.put(CF_DEFAULT, rawDataKey(userKey), value);
}

export function rawDelete(batch: WriteBatch, userKey: Uint8Array): void {
  batch.delete(CF_DEFAULT, rawDataKey(userKey));
}

/** Deletes raw user keys [startKey, endKey); an empty endKey means unbounded. */
export function rawDeleteRange(batch: WriteBatch, startKey: Uint8Array, endKey: Uint8Array): void {
  const span = rawDataSpan(startKey, endKey);
  batch.deleteRange(CF_DEFAULT, span.start, span.end);
}

export function rawGet(reader: RocksReader, userKey: Uint8Array): Promise<Uint8Array | undefined> {
  return reader.get(CF_DEFAULT, rawDataKey(userKey));
}

export function rawBatchGet(
  reader: RocksReader,
  userKeys: readonly Uint8Array[],
): Promise<Array<Uint8Array | undefined>> {
  return reader.getMany(CF_DEFAULT, userKeys.map(rawDataKey));
}

/** Raw pairs in [startKey, endKey), ascending or (reverse) descending, with user keys. */
export async function rawScan(reader: RocksReader, options: RawScanOptions): Promise<RawPair[]> {
  const limit = Math.min(options.limit, MAX_RAW_SCAN_LIMIT);
  if (limit <= 0) return [];
  const span = rawDataSpan(options.startKey, options.endKey);
  const entries = await reader.scan(CF_DEFAULT, {
    ...spanRange(span),
    limit,
    reverse: options.reverse ?? false,
  });
  const empty = new Uint8Array(0);
  return entries.map(({ key, value }) => ({
    key: Uint8Array.from(rawUserKey(key)),
    value: options.keyOnly ? empty : Uint8Array.from(value),
  }));
}

// ---- whole-region operations ---------------------------------------------------------------------------

/** Deletes every data key of the region's range in every data CF (raw and txn spaces). */
export function clearRange(batch: WriteBatch, region: metapb.Region): void {
  for (const span of regionDataSpans(region.startKey, region.endKey)) {
    for (const columnFamily of DATA_COLUMN_FAMILIES) batch.deleteRange(columnFamily, span.start, span.end);
  }
}

/**
 * Counts the region's data by scanning it (bounded by `maxKeys`) and picks split keys on the way.
 *
 * A scan rather than maintained counters: counters would have to be persisted with every apply, corrected
 * on split, snapshot and delete-range (which does not know how many bytes it removed), and would drift
 * after a crash. The split checker runs rarely (when a region has grown by a threshold since the last
 * check) and reads a consistent snapshot, so the scan's cost is bounded and off the write path.
 */
export async function measureRegion(
  reader: RocksReader,
  region: metapb.Region,
  options: RegionSizeOptions,
): Promise<RegionSizeEstimate> {
  const counter = new SplitKeyCounter(options);
  const [rawSpan, txnSpan] = regionDataSpans(region.startKey, region.endKey);
  // Raw KV lives only in CF default; transactional data in all three.
  const sources = [
    { columnFamily: CF_DEFAULT, span: rawSpan!, isRaw: true },
    ...DATA_COLUMN_FAMILIES.map((columnFamily) => ({ columnFamily, span: txnSpan!, isRaw: false })),
  ];
  for (const { columnFamily, span, isRaw } of sources) {
    for await (const { key, value } of reader.iterate(columnFamily, spanRange(span))) {
      if (counter.keys >= options.maxKeys) return counter.estimate(true);
      counter.count(key, value, isRaw);
    }
  }
  return counter.estimate(false);
}

class SplitKeyCounter {
  sizeBytes = 0;
  keys = 0;
  readonly splitKeys: Uint8Array[] = [];
  private bytesSinceSplit = 0;
  private keysSinceSplit = 0;

  constructor(private readonly options: RegionSizeOptions) {}

  count(key: Uint8Array, value: Uint8Array, isRawKey: boolean): void {
    const size = key.length + value.length;
    this.sizeBytes += size;
    this.keys += 1;
    // The key that crosses a threshold starts the next region, so the left part stays within it.
    const crossed =
      this.bytesSinceSplit + size > this.options.splitSizeBytes ||
      this.keysSinceSplit + 1 > this.options.splitKeys;
    if (isRawKey && crossed && this.keysSinceSplit > 0 && this.splitKeys.length < this.options.maxSplitKeys) {
      this.splitKeys.push(Uint8Array.from(rawUserKey(key)));
      this.bytesSinceSplit = 0;
      this.keysSinceSplit = 0;
    }
    this.bytesSinceSplit += size;
    this.keysSinceSplit += 1;
  }

  estimate(truncated: boolean): RegionSizeEstimate {
    return { sizeBytes: this.sizeBytes, keys: this.keys, splitKeys: this.splitKeys, truncated };
  }
}

// ---- helpers -------------------------------------------------------------------------------------------

export function spanRange(span: KeySpan): { gte: Uint8Array; lt?: Uint8Array } {
  return span.end === undefined ? { gte: span.start } : { gte: span.start, lt: span.end };
}

interface Decoder<T> {
  decode(input: Uint8Array): T;
}

export function decodeStored<T>(decoder: Decoder<T>, bytes: Uint8Array, what: string, key: Uint8Array): T {
  try {
    return decoder.decode(bytes);
  } catch (error) {
    throw new EngineCorruptionError(what, hex(key), error);
  }
}
