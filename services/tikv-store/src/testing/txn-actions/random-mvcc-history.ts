/**
 * Random MVCC states for property tests of the reading and collecting code: up to 30 keys (of bytes that
 * make keys prefixes of each other, and zero bytes, where the memcomparable encoding must keep user-key
 * order), each with up to 40 versions of every write type (more than two pages of one key's versions)
 * and maybe a lock, with short and long values. The model keeps what was stored so tests can compute
 * the expected answer by brute force.
 */
import fc from "fast-check";
import { compareBytes } from "#codec";
import type { LockRecord, LockType } from "../../mvcc/lock-record.ts";
import { MvccTxn } from "../../mvcc/mvcc-txn.ts";
import { SHORT_VALUE_MAX_BYTES, type WriteType } from "../../mvcc/write-record.ts";
import { MemoryMvccStorage } from "../memory-mvcc-storage.ts";

export interface HistoryVersion {
  readonly commitTs: bigint;
  /** commit_ts - 1: distinct per version, so no two share a default-CF slot. */
  readonly startTs: bigint;
  readonly type: WriteType;
  readonly value: Uint8Array;
}

export interface HistoryKey {
  readonly key: Uint8Array;
  /** Newest first, distinct commit timestamps in [2, 200]. */
  readonly versions: readonly HistoryVersion[];
  readonly lock: LockRecord | undefined;
}

const KEY_BYTES = [0x00, 0x01, 0x61, 0x62, 0xff];

export const userKeyArbitrary = fc
  .array(fc.constantFrom(...KEY_BYTES), { minLength: 0, maxLength: 10 })
  .map((bytes) => Uint8Array.from(bytes));

const value = fc.oneof(
  fc.uint8Array({ maxLength: 8 }),
  fc
    .integer({ min: SHORT_VALUE_MAX_BYTES, max: SHORT_VALUE_MAX_BYTES + 2 })
    .map((length) => new Uint8Array(length).fill(7)),
);
const version = fc
  .record({
    commitTs: fc.bigInt({ min: 2n, max: 200n }),
    type: fc.constantFrom<WriteType>("put", "put", "delete", "lock", "rollback"),
    value,
  })
  .map((v): HistoryVersion => ({ ...v, startTs: v.commitTs - 1n }));
const lock = fc.record({
  type: fc.constantFrom<LockType>("put", "delete", "lock", "pessimistic"),
  startTs: fc.bigInt({ min: 1n, max: 200n }),
  minCommitTs: fc.oneof(fc.constant(0n), fc.bigInt({ min: 1n, max: 200n })),
});
const historyKey = fc.record({
  key: userKeyArbitrary,
  versions: fc.uniqueArray(version, { maxLength: 40, size: "max", selector: (v) => v.commitTs }),
  lock: fc.option(lock, { nil: undefined }),
});

/** Keys in order. */
export const mvccHistoryArbitrary: fc.Arbitrary<HistoryKey[]> = fc
  .uniqueArray(historyKey, {
    maxLength: 30,
    size: "max",
    selector: (k) => Buffer.from(k.key).toString("hex"),
  })
  .map((keys) =>
    keys
      .map(
        (k): HistoryKey => ({
          key: k.key,
          versions: [...k.versions].sort((a, b) => (a.commitTs > b.commitTs ? -1 : 1)),
          lock: k.lock === undefined ? undefined : lockOf(k.key, k.lock),
        }),
      )
      .sort((a, b) => compareBytes(a.key, b.key)),
  );

function lockOf(
  key: Uint8Array,
  fields: { readonly type: LockType; readonly startTs: bigint; readonly minCommitTs: bigint },
): LockRecord {
  return {
    ...fields,
    primary: key,
    ttlMs: 3000n,
    shortValue: undefined,
    forUpdateTs: 0n,
    txnSize: 0n,
    useAsyncCommit: false,
    secondaries: [],
  };
}

export function storeHistory(keys: readonly HistoryKey[]): MemoryMvccStorage {
  const storage = new MemoryMvccStorage();
  const txn = new MvccTxn();
  for (const { key, versions, lock: keyLock } of keys) {
    for (const { commitTs, startTs, type, value: versionValue } of versions) {
      const short = type === "put" && versionValue.length <= SHORT_VALUE_MAX_BYTES;
      if (type === "put" && !short) txn.putValue(key, startTs, versionValue);
      txn.putWrite(key, commitTs, {
        type,
        startTs,
        shortValue: short ? versionValue : undefined,
        hasOverlappedRollback: false,
      });
    }
    if (keyLock !== undefined) txn.putLock(key, keyLock);
  }
  storage.apply(txn.modifies);
  return storage;
}

/** The newest Put or Delete at or below ts: what a reader at ts sees of the key. */
export function visibleVersion(entry: HistoryKey, ts: bigint): HistoryVersion | undefined {
  return entry.versions.find((v) => v.commitTs <= ts && (v.type === "put" || v.type === "delete"));
}
