/**
 * BatchRollback and Cleanup: the transaction gives up (or a resolver decides it must). Every key ends with
 * a Rollback record; a key the transaction already committed makes the whole command fail, since rolling
 * back part of a committed transaction would break atomicity.
 */

import { physicalMsOf } from "#codec";
import type { KeyError } from "../../mvcc/key-error.ts";
import type { MvccReader } from "../../mvcc/mvcc-reader.ts";
import type { MvccTxn } from "../../mvcc/mvcc-txn.ts";
import { rollbackLock, settleMissingLock } from "./rollback.ts";

export async function batchRollback(
  reader: MvccReader,
  txn: MvccTxn,
  keys: readonly Uint8Array[],
  startTs: bigint,
): Promise<KeyError | undefined> {
  for (const key of keys) {
    const result = await rollbackKey(reader, txn, key, startTs);
    if (result.kind === "committed") {
      return { kind: "abort", reason: `transaction ${startTs} already committed at ${result.commitTs}` };
    }
  }
  return undefined;
}

type RollbackKeyResult =
  | { readonly kind: "rolled-back" }
  | { readonly kind: "committed"; readonly commitTs: bigint };

async function rollbackKey(
  reader: MvccReader,
  txn: MvccTxn,
  key: Uint8Array,
  startTs: bigint,
): Promise<RollbackKeyResult> {
  const lock = await reader.loadLock(key);
  if (lock !== undefined && lock.startTs === startTs) {
    await rollbackLock(reader, txn, key, lock);
    return { kind: "rolled-back" };
  }
  const record = await reader.txnCommitRecord(key, startTs);
  if (record.kind === "committed") return { kind: "committed", commitTs: record.commitTs };
  settleMissingLock(txn, key, startTs, record, true);
  return { kind: "rolled-back" };
}

export type CleanupResult =
  | { readonly kind: "rolled-back" }
  | { readonly kind: "committed"; readonly commitTs: bigint }
  | { readonly kind: "locked"; readonly error: KeyError };

/** Rolls back `key` of transaction `startTs` unless its lock is still alive at `currentTs` (0: always). */
export async function cleanup(
  reader: MvccReader,
  txn: MvccTxn,
  key: Uint8Array,
  startTs: bigint,
  currentTs: bigint,
): Promise<CleanupResult> {
  const lock = await reader.loadLock(key);
  if (lock !== undefined && lock.startTs === startTs) {
    if (currentTs > 0n && !isExpired(lock.startTs, lock.ttlMs, currentTs)) {
      return { kind: "locked", error: { kind: "locked", key, lock } };
    }
    await rollbackLock(reader, txn, key, lock);
    return { kind: "rolled-back" };
  }
  return rollbackKey(reader, txn, key, startTs);
}

/** A lock's TTL counts from its start_ts's physical time; TSO timestamps are comparable across stores. */
export function isExpired(lockTs: bigint, ttlMs: bigint, currentTs: bigint): boolean {
  return physicalMsOf(lockTs) + ttlMs < physicalMsOf(currentTs);
}
