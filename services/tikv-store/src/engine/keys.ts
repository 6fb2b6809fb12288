/**
 * Every key layout of the store, in one place.
 *
 * kv engine
 *   CF default            `z` `r` user-key                          raw KV value
 *   CF default/lock/write `z` `x` memcomparable(user-key) [~ts]     transactional data (later)
 *   CF raft               `\x01\x01`                                StoreIdent
 *                         `\x01\x03` region-id(8 B BE) `\x01`       RegionLocalState
 *                         `\x01\x03` region-id(8 B BE) `\x02`       RaftApplyState
 * raft engine (CF default)
 *                         `\x01\x02` region-id `\x01` index(8 B BE) eraftpb.Entry
 *                         `\x01\x02` region-id `\x02`               RaftLocalState
 *
 * Big-endian ids and indexes make RocksDB's byte order equal numeric order, so all keys of one region sort
 * together and a region's log sorts by index. Local keys start with 0x01 and data keys with `z` (0x7a), so
 * the two spaces never interleave even when they share a column family.
 */
import { CodecError, encodeBytes, prefixNext } from "#codec";

const DATA_PREFIX = 0x7a; // "z"
const RAW_PREFIX = 0x72; // "r"
const TXN_PREFIX = 0x78; // "x"
const LOCAL_PREFIX = 0x01;
const STORE_IDENT_SUFFIX = 0x01;
const REGION_RAFT_PREFIX = 0x02;
const REGION_META_PREFIX = 0x03;
const RAFT_LOG_SUFFIX = 0x01;
const RAFT_STATE_SUFFIX = 0x02;
const REGION_STATE_SUFFIX = 0x01;
const APPLY_STATE_SUFFIX = 0x02;

const ID_BYTES = 8;
const REGION_PREFIX_BYTES = 2 + ID_BYTES;
const RAFT_LOG_KEY_BYTES = REGION_PREFIX_BYTES + 1 + 8;
const REGION_META_KEY_BYTES = REGION_PREFIX_BYTES + 1;
const UINT64_MAX = (1n << 64n) - 1n;
const TWO_TO_32 = 2 ** 32;

export const RAW_DATA_PREFIX: Uint8Array = Uint8Array.of(DATA_PREFIX, RAW_PREFIX);
export const TXN_DATA_PREFIX: Uint8Array = Uint8Array.of(DATA_PREFIX, TXN_PREFIX);
export const STORE_IDENT_KEY: Uint8Array = Uint8Array.of(LOCAL_PREFIX, STORE_IDENT_SUFFIX);

/** A key that does not have the layout its reader expects. */
export class KeyFormatError extends Error {
  override readonly name = "KeyFormatError";
  constructor(
    readonly keyHex: string,
    readonly expected: string,
  ) {
    super(`key ${keyHex || "(empty)"} is not a ${expected}`);
  }
}

/** [start, end) in one key space; `end` undefined means "to the end of the column family". */
export interface KeySpan {
  readonly start: Uint8Array;
  readonly end: Uint8Array | undefined;
}

// ---- data keys -------------------------------------------------------------------------------------------

export function rawDataKey(userKey: Uint8Array): Uint8Array {
  return concat(RAW_DATA_PREFIX, userKey);
}

export function rawUserKey(dataKey: Uint8Array): Uint8Array {
  if (!hasPrefix(dataKey, RAW_DATA_PREFIX)) throw new KeyFormatError(hex(dataKey), "raw data key");
  return dataKey.subarray(RAW_DATA_PREFIX.length);
}

/** `encodedKey` is memcomparable(user key), optionally followed by ~ts: the txn layer builds it. */
export function txnDataKey(encodedKey: Uint8Array): Uint8Array {
  return concat(TXN_DATA_PREFIX, encodedKey);
}

export function txnEncodedKey(dataKey: Uint8Array): Uint8Array {
  if (!hasPrefix(dataKey, TXN_DATA_PREFIX)) throw new KeyFormatError(hex(dataKey), "txn data key");
  return dataKey.subarray(TXN_DATA_PREFIX.length);
}

/**
 * The raw data keys of the user range [startKey, endKey); an empty endKey means unbounded, which maps to
 * the end of the raw space (`zr` prefixNext = `zs`), never into the txn space.
 */
export function rawDataSpan(startKey: Uint8Array, endKey: Uint8Array): KeySpan {
  return {
    start: rawDataKey(startKey),
    end: endKey.length === 0 ? prefixNext(RAW_DATA_PREFIX) : rawDataKey(endKey),
  };
}

/**
 * The txn data keys of user range [startKey, endKey). Every key of user key k (with any ts suffix) sorts at
 * or after `zx`+enc(k) and before `zx`+enc(k') for every k' > k, since memcomparable encodings are
 * order-preserving and no encoding is a prefix of another.
 */
export function txnDataSpan(startKey: Uint8Array, endKey: Uint8Array): KeySpan {
  return {
    start: startKey.length === 0 ? TXN_DATA_PREFIX : txnDataKey(encodeBytes(startKey)),
    end: endKey.length === 0 ? prefixNext(TXN_DATA_PREFIX) : txnDataKey(encodeBytes(endKey)),
  };
}

/** Every data span a region owns, in every data column family: what clearing or snapshotting it covers. */
export function regionDataSpans(startKey: Uint8Array, endKey: Uint8Array): readonly KeySpan[] {
  return [rawDataSpan(startKey, endKey), txnDataSpan(startKey, endKey)];
}

/** True when `dataKey` is a data key of either space that belongs to the user range [startKey, endKey). */
export function isDataKeyInRange(dataKey: Uint8Array, startKey: Uint8Array, endKey: Uint8Array): boolean {
  return regionDataSpans(startKey, endKey).some((span) => isInSpan(dataKey, span));
}

export function isInSpan(key: Uint8Array, span: KeySpan): boolean {
  return (
    Buffer.compare(key, span.start) >= 0 && (span.end === undefined || Buffer.compare(key, span.end) < 0)
  );
}

// ---- kv engine, CF raft: region meta ---------------------------------------------------------------------

export function regionStateKey(regionId: bigint): Uint8Array {
  return regionMetaKey(regionId, REGION_STATE_SUFFIX);
}

export function applyStateKey(regionId: bigint): Uint8Array {
  return regionMetaKey(regionId, APPLY_STATE_SUFFIX);
}

/** Every region meta key (region states and apply states of all regions). */
export const REGION_META_SPAN: KeySpan = {
  start: Uint8Array.of(LOCAL_PREFIX, REGION_META_PREFIX),
  end: Uint8Array.of(LOCAL_PREFIX, REGION_META_PREFIX + 1),
};

export type RegionMetaKind = "region-state" | "apply-state";

export function parseRegionMetaKey(key: Uint8Array): { regionId: bigint; kind: RegionMetaKind } {
  const expected = "region meta key";
  if (key.length !== REGION_META_KEY_BYTES || key[0] !== LOCAL_PREFIX || key[1] !== REGION_META_PREFIX) {
    throw new KeyFormatError(hex(key), expected);
  }
  const suffix = key[REGION_PREFIX_BYTES];
  if (suffix !== REGION_STATE_SUFFIX && suffix !== APPLY_STATE_SUFFIX) {
    throw new KeyFormatError(hex(key), expected);
  }
  return {
    regionId: readUint64(key, 2),
    kind: suffix === REGION_STATE_SUFFIX ? "region-state" : "apply-state",
  };
}

// ---- raft engine -----------------------------------------------------------------------------------------

export function raftLogKey(regionId: bigint, index: number): Uint8Array {
  const key = regionKeyBuffer(REGION_RAFT_PREFIX, regionId, RAFT_LOG_KEY_BYTES);
  key[REGION_PREFIX_BYTES] = RAFT_LOG_SUFFIX;
  writeIndex(key, REGION_PREFIX_BYTES + 1, index);
  return key;
}

export function raftStateKey(regionId: bigint): Uint8Array {
  const key = regionKeyBuffer(REGION_RAFT_PREFIX, regionId, REGION_PREFIX_BYTES + 1);
  key[REGION_PREFIX_BYTES] = RAFT_STATE_SUFFIX;
  return key;
}

/** Log keys of entries [lo, hi) of one region; `hi` undefined means every entry from `lo` on. */
export function raftLogSpan(regionId: bigint, lo: number, hi?: number): KeySpan {
  // The raft state key (suffix 0x02) is the first key after every log key (suffix 0x01) of the region.
  const end = hi === undefined ? raftStateKey(regionId) : raftLogKey(regionId, hi);
  return { start: raftLogKey(regionId, lo), end };
}

/** Every raft engine key of one region: its log and its raft state. */
export function regionRaftSpan(regionId: bigint): KeySpan {
  const prefix = regionKeyBuffer(REGION_RAFT_PREFIX, regionId, REGION_PREFIX_BYTES);
  // Never unbounded: the 0x01 0x02 prefix can always be incremented (the last region id ends at 0x01 0x03).
  return { start: prefix, end: prefixNext(prefix) };
}

export function parseRaftLogKey(key: Uint8Array): { regionId: bigint; index: number } {
  const valid =
    key.length === RAFT_LOG_KEY_BYTES &&
    key[0] === LOCAL_PREFIX &&
    key[1] === REGION_RAFT_PREFIX &&
    key[REGION_PREFIX_BYTES] === RAFT_LOG_SUFFIX;
  if (!valid) throw new KeyFormatError(hex(key), "raft log key");
  const index = readUint64(key, REGION_PREFIX_BYTES + 1);
  if (index > BigInt(Number.MAX_SAFE_INTEGER)) throw new KeyFormatError(hex(key), "raft log key (index)");
  return { regionId: readUint64(key, 2), index: Number(index) };
}

// ---- helpers ---------------------------------------------------------------------------------------------

function regionMetaKey(regionId: bigint, suffix: number): Uint8Array {
  const key = regionKeyBuffer(REGION_META_PREFIX, regionId, REGION_PREFIX_BYTES + 1);
  key[REGION_PREFIX_BYTES] = suffix;
  return key;
}

function regionKeyBuffer(prefix: number, regionId: bigint, length: number): Uint8Array {
  if (regionId < 0n || regionId > UINT64_MAX) {
    throw new CodecError("out-of-range", `region id ${regionId} is not a uint64`);
  }
  const key = new Uint8Array(length);
  key[0] = LOCAL_PREFIX;
  key[1] = prefix;
  new DataView(key.buffer).setBigUint64(2, regionId);
  return key;
}

function writeIndex(target: Uint8Array, offset: number, index: number): void {
  if (!Number.isSafeInteger(index) || index < 0) {
    throw new CodecError("out-of-range", `raft log index ${index} is not a non-negative safe integer`);
  }
  const view = new DataView(target.buffer, target.byteOffset);
  view.setUint32(offset, Math.floor(index / TWO_TO_32));
  view.setUint32(offset + 4, index % TWO_TO_32);
}

function readUint64(source: Uint8Array, offset: number): bigint {
  return new DataView(source.buffer, source.byteOffset, source.byteLength).getBigUint64(offset);
}

function concat(prefix: Uint8Array, rest: Uint8Array): Uint8Array {
  const key = new Uint8Array(prefix.length + rest.length);
  key.set(prefix, 0);
  key.set(rest, prefix.length);
  return key;
}

function hasPrefix(key: Uint8Array, prefix: Uint8Array): boolean {
  if (key.length < prefix.length) return false;
  for (let index = 0; index < prefix.length; index++) if (key[index] !== prefix[index]) return false;
  return true;
}

export function hex(key: Uint8Array): string {
  return Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString("hex");
}
