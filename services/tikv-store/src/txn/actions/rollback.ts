/**
 * Rolling a transaction back on one key, shared by every action that does it (BatchRollback, Cleanup,
 * CheckTxnStatus, CheckSecondaryLocks, ResolveLock). The Rollback record at start_ts is what makes the
 * rollback final: a prewrite of the same transaction arriving late finds it and fails, so the
 * transaction can never half-commit.
 */
import type { LockRecord } from "../../mvcc/lock-record.ts";
import type { MvccReader, TxnCommitRecord, WriteVersion } from "../../mvcc/mvcc-reader.ts";
import type { MvccTxn } from "../../mvcc/mvcc-txn.ts";

/** Removes our lock, its value, and records the rollback. */
export async function rollbackLock(
  reader: MvccReader,
  txn: MvccTxn,
  key: Uint8Array,
  lock: LockRecord,
): Promise<void> {
  if (lock.type === "put" && lock.shortValue === undefined) txn.deleteValue(key, lock.startTs);
  // A pessimistic lock guarded no write; still, the record stops a late prewrite of the transaction.
  const record = await reader.txnCommitRecord(key, lock.startTs);
  writeRollbackRecord(txn, key, lock.startTs, record.kind === "none" ? record.overlapped : undefined);
  txn.unlockKey(key, lock, undefined);
}

/**
 * Writes the Rollback record at start_ts; when another transaction's commit record already sits at that
 * timestamp (its commit_ts equals our start_ts), that record is kept and marked instead.
 */
export function writeRollbackRecord(
  txn: MvccTxn,
  key: Uint8Array,
  startTs: bigint,
  overlapped: WriteVersion | undefined,
): void {
  if (overlapped !== undefined) {
    txn.putWrite(key, startTs, { ...overlapped.write, hasOverlappedRollback: true });
    return;
  }
  txn.putWrite(key, startTs, {
    type: "rollback",
    startTs,
    shortValue: undefined,
    hasOverlappedRollback: false,
  });
}

/**
 * The transaction has no lock on the key: decide from its records, writing a rollback when asked and
 * nothing says it committed.
 */
export function settleMissingLock(
  txn: MvccTxn,
  key: Uint8Array,
  startTs: bigint,
  record: TxnCommitRecord,
  rollbackIfNotExist: boolean,
): "committed" | "rolled-back" | "rolled-back-now" | "not-found" {
  switch (record.kind) {
    case "committed":
      return "committed";
    case "rolled-back":
      return "rolled-back";
    case "none":
      if (!rollbackIfNotExist) return "not-found";
      writeRollbackRecord(txn, key, startTs, record.overlapped);
      return "rolled-back-now";
    default:
      return record satisfies never;
  }
}
