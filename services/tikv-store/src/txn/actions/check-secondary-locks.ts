/**
 * CheckSecondaryLocks decides an async-commit transaction from its keys: it committed if every key was
 * prewritten (then some key may already show the commit), and it is rolled back as soon as one key has no
 * prewrite lock — that key gets a rollback record first, so a late prewrite can no longer complete it.
 */
import type { LockRecord } from "../../mvcc/lock-record.ts";
import type { MvccReader } from "../../mvcc/mvcc-reader.ts";
import type { MvccTxn } from "../../mvcc/mvcc-txn.ts";
import { rollbackLock, settleMissingLock } from "./rollback.ts";

export type SecondaryLocksStatus =
  | {
      readonly kind: "locked";
      readonly locks: ReadonlyArray<{ readonly key: Uint8Array; readonly lock: LockRecord }>;
    }
  | { readonly kind: "committed"; readonly commitTs: bigint }
  | { readonly kind: "rolled-back" };

export async function checkSecondaryLocks(
  reader: MvccReader,
  txn: MvccTxn,
  keys: readonly Uint8Array[],
  startTs: bigint,
): Promise<SecondaryLocksStatus> {
  const locks: Array<{ key: Uint8Array; lock: LockRecord }> = [];
  for (const key of keys) {
    const lock = await reader.loadLock(key);
    if (lock !== undefined && lock.startTs === startTs) {
      if (lock.type === "pessimistic") {
        // Never prewritten: the transaction cannot have committed through async commit.
        await rollbackLock(reader, txn, key, lock);
        return { kind: "rolled-back" };
      }
      locks.push({ key, lock });
      continue;
    }
    const record = await reader.txnCommitRecord(key, startTs);
    const settled = settleMissingLock(txn, key, startTs, record, true);
    if (settled === "committed" && record.kind === "committed") {
      return { kind: "committed", commitTs: record.commitTs };
    }
    return { kind: "rolled-back" };
  }
  return { kind: "locked", locks };
}
