/**
 * CheckTxnStatus: the lock resolver asks the primary key what became of a transaction. The primary's
 * lock or records decide: alive (with its TTL; a reader's call pushes min_commit_ts past the reader so it
 * can read without waiting), committed, or rolled back — rolling back an expired lock, or writing a
 * rollback when nothing of the transaction exists so a late prewrite cannot revive it.
 */
import type { KeyError } from "../../mvcc/key-error.ts";
import type { LockRecord } from "../../mvcc/lock-record.ts";
import type { MvccReader } from "../../mvcc/mvcc-reader.ts";
import { TS_MAX } from "../../mvcc/mvcc-reader.ts";
import type { MvccTxn } from "../../mvcc/mvcc-txn.ts";
import { isExpired } from "./batch-rollback.ts";
import { rollbackLock, settleMissingLock } from "./rollback.ts";

export interface CheckTxnStatusParams {
  readonly primary: Uint8Array;
  readonly lockTs: bigint;
  /** The caller's start_ts: a reader (non-zero, not max) gets min_commit_ts pushed above it. */
  readonly callerStartTs: bigint;
  readonly currentTs: bigint;
  readonly rollbackIfNotExist: boolean;
  readonly resolvingPessimisticLock: boolean;
  /**
   * The resolver found a secondary prewritten without async commit: the client fell back to 2PC, so the
   * primary's async-commit flag no longer decides anything and the lock is treated as a normal one.
   */
  readonly forceSyncCommit: boolean;
}

export type TxnAction =
  | "none"
  | "ttl-expire-rollback"
  | "lock-not-exist-rollback"
  | "min-commit-ts-pushed"
  | "ttl-expire-pessimistic-rollback"
  | "lock-not-exist-do-nothing";

export type TxnStatus =
  | { readonly kind: "alive"; readonly lock: LockRecord; readonly action: TxnAction }
  | { readonly kind: "committed"; readonly commitTs: bigint }
  | { readonly kind: "rolled-back"; readonly action: TxnAction }
  | { readonly kind: "error"; readonly error: KeyError };

export async function checkTxnStatus(
  reader: MvccReader,
  txn: MvccTxn,
  params: CheckTxnStatusParams,
): Promise<TxnStatus> {
  const { primary, lockTs } = params;
  const lock = await reader.loadLock(primary);
  if (lock !== undefined && lock.startTs === lockTs) {
    // Deciding a transaction from a key that is not its primary could roll back a committed transaction.
    if (Buffer.compare(lock.primary, primary) !== 0) {
      return {
        kind: "error",
        error: {
          kind: "abort",
          reason: `key is not the primary of transaction ${lockTs}; its primary is ${Buffer.from(lock.primary).toString("hex")}`,
        },
      };
    }
    return checkLiveLock(reader, txn, params, lock);
  }
  const record = await reader.txnCommitRecord(primary, lockTs);
  if (record.kind === "none" && params.rollbackIfNotExist && params.resolvingPessimisticLock) {
    // The pessimistic primary the caller's lock points to is gone without a trace (a statement's
    // pessimistic rollback leaves none): the transaction may lock it again, so no record is written.
    // Without rollback_if_not_exist the caller gets TxnNotFound like any other and waits for the lock it
    // met to expire, rather than being told it may remove that lock of a possibly live transaction now.
    return { kind: "rolled-back", action: "lock-not-exist-do-nothing" };
  }
  const settled = settleMissingLock(txn, primary, lockTs, record, params.rollbackIfNotExist);
  switch (settled) {
    case "committed":
      return { kind: "committed", commitTs: record.kind === "committed" ? record.commitTs : 0n };
    case "rolled-back":
      return { kind: "rolled-back", action: "none" };
    case "rolled-back-now":
      return { kind: "rolled-back", action: "lock-not-exist-rollback" };
    case "not-found":
      return { kind: "error", error: { kind: "txn-not-found", startTs: lockTs, primaryKey: primary } };
    default:
      return settled satisfies never;
  }
}

async function checkLiveLock(
  reader: MvccReader,
  txn: MvccTxn,
  params: CheckTxnStatusParams,
  lock: LockRecord,
): Promise<TxnStatus> {
  const { primary } = params;
  // An async-commit transaction may already be committed through its secondaries, expired or not: only
  // the resolver, having checked them all, may decide. Report the lock; pushing it would change nothing
  // the secondaries say.
  if (lock.useAsyncCommit && !params.forceSyncCommit) return { kind: "alive", lock, action: "none" };
  if (isExpired(lock.startTs, lock.ttlMs, params.currentTs)) {
    if (lock.type === "pessimistic" && params.resolvingPessimisticLock) {
      // Only a pessimistic lock: nothing was written, so the lock is simply dropped, no rollback record.
      txn.unlockKey(primary, lock, undefined);
      return { kind: "rolled-back", action: "ttl-expire-pessimistic-rollback" };
    }
    await rollbackLock(reader, txn, primary, lock);
    return { kind: "rolled-back", action: "ttl-expire-rollback" };
  }
  const { callerStartTs } = params;
  // A caller at TS_MAX reads the newest committed version and never needs the lock to move.
  if (callerStartTs === TS_MAX) return { kind: "alive", lock, action: "min-commit-ts-pushed" };
  if (callerStartTs === 0n) return { kind: "alive", lock, action: "none" };
  let current = lock;
  if (callerStartTs >= lock.minCommitTs) {
    let pushed = callerStartTs + 1n;
    if (pushed < params.currentTs) pushed = params.currentTs;
    current = { ...lock, minCommitTs: pushed };
    txn.putLock(primary, current);
  }
  // The reader may read past the transaction's locks whenever min_commit_ts is above it, whether this call
  // or an earlier one (or the prewrite itself) put it there: the action is what the reader goes by.
  return { kind: "alive", lock: current, action: "min-commit-ts-pushed" };
}
