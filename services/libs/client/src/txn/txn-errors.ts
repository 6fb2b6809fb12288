/**
 * What a transaction can fail with, typed so callers (the SQL gateway) map each to the right MySQL error
 * and know whether retrying the whole transaction may help.
 */
import { kvrpcpb } from "#proto";

const hex = (key: Uint8Array) => Buffer.from(key).toString("hex");

export class TxnError extends Error {
  override readonly name: string = "TxnError";
}

/** A call the API does not allow (empty key, a finished transaction, an invalid option). */
export class TxnArgumentError extends TxnError {
  override readonly name = "TxnArgumentError";
}

export class TxnClosedError extends TxnError {
  override readonly name = "TxnClosedError";
}

/** Another transaction committed a key after this one read it: retrying from a new start_ts may succeed. */
export class WriteConflictError extends TxnError {
  override readonly name = "WriteConflictError";
  constructor(
    readonly key: Uint8Array,
    readonly startTs: bigint,
    readonly conflictStartTs: bigint,
    readonly conflictCommitTs: bigint,
  ) {
    super(
      `write conflict on key ${hex(key)}: transaction ${conflictStartTs} committed at ${conflictCommitTs}, after this transaction's start_ts ${startTs}`,
    );
  }
}

/** An insert found the key present. */
export class KeyExistsError extends TxnError {
  override readonly name = "KeyExistsError";
  constructor(readonly key: Uint8Array) {
    super(`key ${hex(key)} already exists`);
  }
}

/** Waiting for a lock would close a cycle of waiting transactions: this one is the victim. */
export class DeadlockError extends TxnError {
  override readonly name = "DeadlockError";
  constructor(
    readonly key: Uint8Array,
    readonly lockTs: bigint,
    readonly waitChain: readonly kvrpcpb.Deadlock["waitChain"][number][],
  ) {
    super(`deadlock: waiting for transaction ${lockTs} on key ${hex(key)} would close a cycle`);
  }
}

/** A pessimistic lock was held by another transaction for longer than the wait allowed. */
export class LockWaitTimeoutError extends TxnError {
  override readonly name = "LockWaitTimeoutError";
  constructor(
    readonly key: Uint8Array,
    readonly lockTs: bigint,
  ) {
    super(`lock wait timeout on key ${hex(key)}, held by transaction ${lockTs}`);
  }
}

/** The store says the transaction can never commit (rolled back by a resolver, its lock gone). */
export class TxnAbortedError extends TxnError {
  override readonly name = "TxnAbortedError";
}

/**
 * The primary's commit may or may not have happened: the request was sent and no answer came. The
 * transaction is either committed or will be rolled back by a resolver; nobody can say which yet, and
 * guessing would be a lie to the application.
 */
export class UndeterminedCommitError extends TxnError {
  override readonly name = "UndeterminedCommitError";
  constructor(
    readonly startTs: bigint,
    readonly commitTs: bigint,
    cause: unknown,
  ) {
    super(
      `the commit of transaction ${startTs} at ${commitTs} has an unknown outcome: ${cause instanceof Error ? cause.message : String(cause)}`,
      { cause },
    );
  }
}

/** A key error the client has no better type for (a bug on one side, or a store newer than the client). */
export class UnexpectedKeyError extends TxnError {
  override readonly name = "UnexpectedKeyError";
  constructor(
    operation: string,
    readonly keyError?: kvrpcpb.KeyError,
  ) {
    super(
      keyError === undefined
        ? operation
        : `${operation}: ${JSON.stringify(kvrpcpb.KeyError.toJSON(keyError))}`,
    );
  }
}
