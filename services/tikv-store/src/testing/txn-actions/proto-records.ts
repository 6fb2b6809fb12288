/**
 * kvrpcpb answers back in the actions' terms (KeyError, LockRecord, TxnStatus), the inverse of the
 * store's server/txn-proto.ts, so the model-based test's clients read a gRPC store's answers exactly as
 * they read the pure actions' results.
 */
import { kvrpcpb } from "#proto";
import type { KeyError } from "../../mvcc/key-error.ts";
import type { LockRecord, LockType } from "../../mvcc/lock-record.ts";
import { TXN_ACTION_TO_PROTO } from "../../server/txn-proto.ts";
import type { TxnAction, TxnStatus } from "../../txn/actions/check-txn-status.ts";

/** The store answered something the protocol rules out, or that these mappings do not know. */
export class UnexpectedAnswerError extends Error {
  override readonly name = "UnexpectedAnswerError";
}

const LOCK_TYPE = new Map<kvrpcpb.Op, LockType>([
  [kvrpcpb.Op.PUT, "put"],
  [kvrpcpb.Op.DEL, "delete"],
  [kvrpcpb.Op.LOCK, "lock"],
  [kvrpcpb.Op.PESSIMISTIC_LOCK, "pessimistic"],
]);

const TXN_ACTION = new Map(
  Object.entries(TXN_ACTION_TO_PROTO).map(([action, proto]) => [proto, action as TxnAction]),
);

/** The lock a LockInfo describes; a LockInfo carries no value, so shortValue is left out. */
export function lockFromProto(info: kvrpcpb.LockInfo): LockRecord {
  const type = LOCK_TYPE.get(info.lockType);
  if (type === undefined) throw new UnexpectedAnswerError(`a lock of op ${info.lockType}`);
  return {
    type,
    primary: info.primaryLock,
    startTs: info.lockTs,
    ttlMs: info.lockTtlMs,
    shortValue: undefined,
    forUpdateTs: info.lockForUpdateTs,
    txnSize: info.txnSize,
    minCommitTs: info.minCommitTs,
    useAsyncCommit: info.useAsyncCommit,
    secondaries: info.secondaries,
  };
}

export function keyErrorFromProto(error: kvrpcpb.KeyError): KeyError {
  const { locked, conflict, alreadyExist, deadlock, commitTsExpired, txnNotFound, commitTsTooLarge } = error;
  if (locked !== undefined) return { kind: "locked", key: locked.key, lock: lockFromProto(locked) };
  if (conflict !== undefined) {
    return {
      kind: "conflict",
      key: conflict.key,
      primary: conflict.primary,
      startTs: conflict.startTs,
      conflictStartTs: conflict.conflictTs,
      conflictCommitTs: conflict.conflictCommitTs,
    };
  }
  if (alreadyExist !== undefined) return { kind: "already-exist", key: alreadyExist.key };
  if (error.abort !== "") return { kind: "abort", reason: error.abort };
  if (deadlock !== undefined) {
    return {
      kind: "deadlock",
      lockTs: deadlock.lockTs,
      lockKey: deadlock.lockKey,
      deadlockKeyHash: deadlock.deadlockKeyHash,
      waitChain: deadlock.waitChain.map((edge) => ({
        txn: edge.txn,
        waitForTxn: edge.waitForTxn,
        keyHash: edge.keyHash,
        key: edge.key,
        waitTimeMs: edge.waitTimeMs,
      })),
    };
  }
  if (commitTsExpired !== undefined) {
    return {
      kind: "commit-ts-expired",
      key: commitTsExpired.key,
      startTs: commitTsExpired.startTs,
      attemptedCommitTs: commitTsExpired.attemptedCommitTs,
      minCommitTs: commitTsExpired.minCommitTs,
    };
  }
  if (txnNotFound !== undefined) {
    return { kind: "txn-not-found", startTs: txnNotFound.startTs, primaryKey: txnNotFound.primaryKey };
  }
  if (commitTsTooLarge !== undefined)
    return { kind: "commit-ts-too-large", commitTs: commitTsTooLarge.commitTs };
  throw new UnexpectedAnswerError(`key error ${JSON.stringify(kvrpcpb.KeyError.toJSON(error))}`);
}

/** CheckTxnStatus's answer: a lock info means alive, a commit_ts committed, neither rolled back. */
export function txnStatusFromProto(response: kvrpcpb.CheckTxnStatusResponse): TxnStatus {
  if (response.error !== undefined) return { kind: "error", error: keyErrorFromProto(response.error) };
  if (response.lockInfo !== undefined) {
    return { kind: "alive", lock: lockFromProto(response.lockInfo), action: txnAction(response.action) };
  }
  if (response.commitTs > 0n) return { kind: "committed", commitTs: response.commitTs };
  return { kind: "rolled-back", action: txnAction(response.action) };
}

function txnAction(action: kvrpcpb.Action): TxnAction {
  const known = TXN_ACTION.get(action);
  if (known === undefined) throw new UnexpectedAnswerError(`CheckTxnStatus action ${action}`);
  return known;
}
