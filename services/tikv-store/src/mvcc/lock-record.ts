/**
 * A record of the lock column family, at `enc(key)`: a transaction holds the key between prewrite (or a
 * pessimistic lock) and commit or rollback. Readers meet it and either wait, resolve it, or read past it.
 *
 * Layout: type byte, primary key (uvarint length + bytes), start_ts, ttl_ms (uvarints), then optional
 * fields by ascending tag: 'a' (0x61) async commit + secondaries (uvarint count, each length-prefixed),
 * 'c' (0x63) min_commit_ts, 'f' (0x66) for_update_ts, 't' (0x74) txn_size, 'v' (0x76) + length byte +
 * the short value. Zero-valued numeric fields are left out.
 */
import { MvccRecordError, RecordReader, RecordWriter } from "./record-bytes.ts";
import { SHORT_VALUE_MAX_BYTES } from "./write-record.ts";

/** Put / Delete / Lock come from prewrite; Pessimistic from a pessimistic lock, before its prewrite. */
export type LockType = "put" | "delete" | "lock" | "pessimistic";

export interface LockRecord {
  readonly type: LockType;
  readonly primary: Uint8Array;
  readonly startTs: bigint;
  readonly ttlMs: bigint;
  /** The value itself when it is short (a put's); longer values are in the default column family. */
  readonly shortValue: Uint8Array | undefined;
  /** 0 for an optimistic lock. */
  readonly forUpdateTs: bigint;
  /** Keys in the transaction, for the lock resolver's choice of how to resolve. */
  readonly txnSize: bigint;
  /** The lowest commit_ts allowed; readers push it above their read_ts to read past the lock. */
  readonly minCommitTs: bigint;
  readonly useAsyncCommit: boolean;
  /** On an async-commit primary: every other key of the transaction. */
  readonly secondaries: readonly Uint8Array[];
}

const TYPE_BYTES: { readonly [Type in LockType]: number } = {
  put: 0x50,
  delete: 0x44,
  lock: 0x4c,
  pessimistic: 0x53,
};
const TAG_ASYNC_COMMIT = 0x61;
const TAG_MIN_COMMIT_TS = 0x63;
const TAG_FOR_UPDATE_TS = 0x66;
const TAG_TXN_SIZE = 0x74;
const TAG_SHORT_VALUE = 0x76;

export function encodeLockRecord(lock: LockRecord): Uint8Array {
  const writer = new RecordWriter()
    .byte(TYPE_BYTES[lock.type])
    .bytes(lock.primary)
    .uvarint(lock.startTs)
    .uvarint(lock.ttlMs);
  if (lock.useAsyncCommit) {
    writer.byte(TAG_ASYNC_COMMIT).uvarint(BigInt(lock.secondaries.length));
    for (const secondary of lock.secondaries) writer.bytes(secondary);
  } else if (lock.secondaries.length > 0) {
    throw new MvccRecordError("lock", "secondaries on a lock without async commit");
  }
  if (lock.minCommitTs > 0n) writer.byte(TAG_MIN_COMMIT_TS).uvarint(lock.minCommitTs);
  if (lock.forUpdateTs > 0n) writer.byte(TAG_FOR_UPDATE_TS).uvarint(lock.forUpdateTs);
  if (lock.txnSize > 0n) writer.byte(TAG_TXN_SIZE).uvarint(lock.txnSize);
  if (lock.shortValue !== undefined) {
    if (lock.shortValue.length > SHORT_VALUE_MAX_BYTES) {
      throw new MvccRecordError("lock", `short value of ${lock.shortValue.length} bytes`);
    }
    writer.byte(TAG_SHORT_VALUE).shortBytes(lock.shortValue);
  }
  return writer.finish();
}

export function decodeLockRecord(data: Uint8Array): LockRecord {
  const reader = new RecordReader("lock", data);
  const type = reader.type(TYPE_BYTES);
  const primary = reader.bytes("primary");
  const startTs = reader.uvarint("start_ts");
  const ttlMs = reader.uvarint("ttl");
  const lock = {
    type,
    primary,
    startTs,
    ttlMs,
    shortValue: undefined as Uint8Array | undefined,
    forUpdateTs: 0n,
    txnSize: 0n,
    minCommitTs: 0n,
    useAsyncCommit: false,
    secondaries: [] as Uint8Array[],
  };
  while (!reader.done) {
    const tag = reader.tag();
    switch (tag) {
      case TAG_ASYNC_COMMIT: {
        lock.useAsyncCommit = true;
        const count = reader.uvarint("secondary count");
        if (count > BigInt(data.length)) throw reader.corrupt(`${count} secondaries`);
        for (let index = 0n; index < count; index++) lock.secondaries.push(reader.bytes("secondary"));
        break;
      }
      case TAG_MIN_COMMIT_TS:
        lock.minCommitTs = reader.uvarint("min_commit_ts");
        break;
      case TAG_FOR_UPDATE_TS:
        lock.forUpdateTs = reader.uvarint("for_update_ts");
        break;
      case TAG_TXN_SIZE:
        lock.txnSize = reader.uvarint("txn_size");
        break;
      case TAG_SHORT_VALUE:
        lock.shortValue = reader.shortBytes("short value");
        break;
      default:
        throw reader.unknownTag(tag);
    }
  }
  return lock;
}
