/**
 * Commit: the second phase. For each key the transaction's lock becomes a commit record at commit_ts.
 * Retried commits are idempotent: a key whose lock is gone but whose commit record exists is done.
 */
import type { KeyError } from "../../mvcc/key-error.ts";
import type { LockRecord } from "../../mvcc/lock-record.ts";
import type { MvccReader } from "../../mvcc/mvcc-reader.ts";
import type { MvccTxn } from "../../mvcc/mvcc-txn.ts";
import type { WriteType } from "../../mvcc/write-record.ts";

export interface CommitParams {
  readonly keys: readonly Uint8Array[];
  readonly startTs: bigint;
  readonly commitTs: bigint;
}

export async function commit(
  reader: MvccReader,
  txn: MvccTxn,
  params: CommitParams,
): Promise<KeyError | undefined> {
  for (const key of params.keys) {
    const error = await commitKey(reader, txn, key, params.startTs, params.commitTs);
    if (error !== undefined) return error;
  }
  return undefined;
}

export async function commitKey(
  reader: MvccReader,
  txn: MvccTxn,
  key: Uint8Array,
  startTs: bigint,
  commitTs: bigint,
): Promise<KeyError | undefined> {
  const lock = await reader.loadLock(key);
  if (lock !== undefined && lock.startTs === startTs && lock.type !== "pessimistic") {
    if (commitTs < lock.minCommitTs) {
      return {
        kind: "commit-ts-expired",
        key,
        startTs,
        attemptedCommitTs: commitTs,
        minCommitTs: lock.minCommitTs,
      };
    }
    await writeCommitRecord(reader, txn, key, lock, commitTs);
    return undefined;
  }
  const record = await reader.txnCommitRecord(key, startTs);
  // A repeated commit finds its own record; anything else means the transaction cannot commit here (a
  // pessimistic lock was never prewritten, or a resolver rolled the transaction back).
  if (record.kind === "committed") return undefined;
  return { kind: "txn-not-found", startTs, primaryKey: key };
}

/** Turns our lock into the commit record, keeping a rollback of another transaction at the same ts. */
export async function writeCommitRecord(
  reader: MvccReader,
  txn: MvccTxn,
  key: Uint8Array,
  lock: LockRecord,
  commitTs: bigint,
): Promise<void> {
  const existing = await reader.writeAt(key, commitTs);
  const overlapsRollback =
    existing !== undefined && (existing.type === "rollback" || existing.hasOverlappedRollback);
  txn.putWrite(key, commitTs, {
    type: COMMIT_WRITE_TYPE[lock.type as Exclude<LockRecord["type"], "pessimistic">],
    startTs: lock.startTs,
    shortValue: lock.shortValue,
    hasOverlappedRollback: overlapsRollback,
  });
  txn.unlockKey(key, lock, commitTs);
}

const COMMIT_WRITE_TYPE: { readonly [Type in Exclude<LockRecord["type"], "pessimistic">]: WriteType } = {
  put: "put",
  delete: "delete",
  lock: "lock",
};
