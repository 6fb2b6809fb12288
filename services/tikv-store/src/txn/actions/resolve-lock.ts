/**
 * ResolveLock: commit or roll back the locks of transactions whose fate the resolver already knows, on
 * the keys given or on every lock of those transactions in the region. A pessimistic lock of a
 * transaction is only dropped either way: it guarded no write.
 */
import type { KeyError } from "../../mvcc/key-error.ts";
import type { LockRecord } from "../../mvcc/lock-record.ts";
import type { MvccReader } from "../../mvcc/mvcc-reader.ts";
import type { MvccTxn } from "../../mvcc/mvcc-txn.ts";
import { writeCommitRecord } from "./commit.ts";
import { rollbackLock } from "./rollback.ts";

/** start_ts → commit_ts, where 0 means roll back. */
export type TxnFates = ReadonlyMap<bigint, bigint>;

export async function resolveLocks(
  reader: MvccReader,
  txn: MvccTxn,
  locks: ReadonlyArray<{ readonly key: Uint8Array; readonly lock: LockRecord }>,
  fates: TxnFates,
): Promise<KeyError | undefined> {
  for (const { key, lock } of locks) {
    const commitTs = fates.get(lock.startTs);
    if (commitTs === undefined) continue;
    if (lock.type === "pessimistic") {
      txn.unlockKey(key, lock, undefined);
    } else if (commitTs === 0n) {
      await rollbackLock(reader, txn, key, lock);
    } else {
      if (commitTs < lock.minCommitTs) {
        return {
          kind: "commit-ts-expired",
          key,
          startTs: lock.startTs,
          attemptedCommitTs: commitTs,
          minCommitTs: lock.minCommitTs,
        };
      }
      await writeCommitRecord(reader, txn, key, lock, commitTs);
    }
  }
  return undefined;
}
