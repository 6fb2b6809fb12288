/**
 * The transaction layer's values in their kvrpcpb form: key errors, lock infos, mutation ops, and the
 * CheckTxnStatus action. Kept apart from the handlers so both the unary RPCs and the BatchCommands stream
 * (and the ctl's views) speak one mapping.
 */
import { kvrpcpb } from "#proto";
import type { KeyError } from "../mvcc/key-error.ts";
import type { LockRecord, LockType } from "../mvcc/lock-record.ts";
import type { WriteType } from "../mvcc/write-record.ts";
import type { TxnAction } from "../txn/actions/check-txn-status.ts";
import type { MutationOp } from "../txn/actions/prewrite.ts";

const LOCK_OP: { readonly [Type in LockType]: kvrpcpb.Op } = {
  put: kvrpcpb.Op.PUT,
  delete: kvrpcpb.Op.DEL,
  lock: kvrpcpb.Op.LOCK,
  pessimistic: kvrpcpb.Op.PESSIMISTIC_LOCK,
};

export function lockInfoToProto(key: Uint8Array, lock: LockRecord): kvrpcpb.LockInfo {
  return {
    primaryLock: lock.primary,
    lockTs: lock.startTs,
    key,
    lockTtlMs: lock.ttlMs,
    txnSize: lock.txnSize,
    lockType: LOCK_OP[lock.type],
    lockForUpdateTs: lock.forUpdateTs,
    minCommitTs: lock.minCommitTs,
    useAsyncCommit: lock.useAsyncCommit,
    secondaries: [...lock.secondaries],
  };
}

export function keyErrorToProto(error: KeyError): kvrpcpb.KeyError {
  const base = kvrpcpb.KeyError.fromPartial({});
  switch (error.kind) {
    case "locked":
      return { ...base, locked: lockInfoToProto(error.key, error.lock) };
    case "conflict":
      return {
        ...base,
        conflict: {
          startTs: error.startTs,
          conflictTs: error.conflictStartTs,
          key: error.key,
          primary: error.primary,
          conflictCommitTs: error.conflictCommitTs,
        },
      };
    case "already-exist":
      return { ...base, alreadyExist: { key: error.key } };
    case "abort":
      return { ...base, abort: error.reason };
    case "deadlock":
      return {
        ...base,
        deadlock: {
          lockTs: error.lockTs,
          lockKey: error.lockKey,
          deadlockKeyHash: error.deadlockKeyHash,
          waitChain: [...error.waitChain],
        },
      };
    case "commit-ts-expired":
      return {
        ...base,
        commitTsExpired: {
          startTs: error.startTs,
          attemptedCommitTs: error.attemptedCommitTs,
          key: error.key,
          minCommitTs: error.minCommitTs,
        },
      };
    case "txn-not-found":
      return { ...base, txnNotFound: { startTs: error.startTs, primaryKey: error.primaryKey } };
    case "commit-ts-too-large":
      return { ...base, commitTsTooLarge: { commitTs: error.commitTs } };
    default:
      return error satisfies never;
  }
}

/** Mutation ops a prewrite accepts; undefined for the others (and for numbers this build does not know). */
export function prewriteOp(op: kvrpcpb.Op): MutationOp | undefined {
  switch (op) {
    case kvrpcpb.Op.PUT:
      return "put";
    case kvrpcpb.Op.DEL:
      return "delete";
    case kvrpcpb.Op.LOCK:
      return "lock";
    case kvrpcpb.Op.INSERT:
      return "insert";
    case kvrpcpb.Op.CHECK_NOT_EXISTS:
      return "check-not-exists";
    default:
      return undefined;
  }
}

export const TXN_ACTION_TO_PROTO: { readonly [Action in TxnAction]: kvrpcpb.Action } = {
  none: kvrpcpb.Action.NO_ACTION,
  "ttl-expire-rollback": kvrpcpb.Action.TTL_EXPIRE_ROLLBACK,
  "lock-not-exist-rollback": kvrpcpb.Action.LOCK_NOT_EXIST_ROLLBACK,
  "min-commit-ts-pushed": kvrpcpb.Action.MIN_COMMIT_TS_PUSHED,
  "ttl-expire-pessimistic-rollback": kvrpcpb.Action.TTL_EXPIRE_PESSIMISTIC_ROLLBACK,
  "lock-not-exist-do-nothing": kvrpcpb.Action.LOCK_NOT_EXIST_DO_NOTHING,
};

export const WRITE_TYPE_TO_PROTO: { readonly [Type in WriteType]: kvrpcpb.MvccWriteType } = {
  put: kvrpcpb.MvccWriteType.PUT,
  delete: kvrpcpb.MvccWriteType.DELETE,
  lock: kvrpcpb.MvccWriteType.LOCK,
  rollback: kvrpcpb.MvccWriteType.ROLLBACK,
};
