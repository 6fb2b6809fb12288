/**
 * Why a transactional command failed for a key, as opposed to a region error (wrong leader, stale
 * epoch), which says nothing about the data and is retried elsewhere. Each kind tells the client what to
 * do: resolve a lock, restart the transaction, give up.
 */
import type { LockRecord } from "./lock-record.ts";

export type KeyError =
  /** Another transaction holds the key: resolve its lock or wait. */
  | { readonly kind: "locked"; readonly key: Uint8Array; readonly lock: LockRecord }
  /** A newer version was committed after the transaction read: restart from a new timestamp. */
  | {
      readonly kind: "conflict";
      readonly key: Uint8Array;
      readonly primary: Uint8Array;
      readonly startTs: bigint;
      readonly conflictStartTs: bigint;
      readonly conflictCommitTs: bigint;
    }
  | { readonly kind: "already-exist"; readonly key: Uint8Array }
  /** The transaction can never succeed (rolled back, already committed, its pessimistic lock is gone). */
  | { readonly kind: "abort"; readonly reason: string }
  | {
      readonly kind: "deadlock";
      readonly lockTs: bigint;
      readonly lockKey: Uint8Array;
      readonly deadlockKeyHash: bigint;
      /** The cycle, ending with the requester's own wait. */
      readonly waitChain: readonly WaitForEdgeInfo[];
    }
  /** Commit below the lock's min_commit_ts (a reader pushed it): commit again at a newer timestamp. */
  | {
      readonly kind: "commit-ts-expired";
      readonly key: Uint8Array;
      readonly startTs: bigint;
      readonly attemptedCommitTs: bigint;
      readonly minCommitTs: bigint;
    }
  /** No lock and no record of the transaction on the key. */
  | { readonly kind: "txn-not-found"; readonly startTs: bigint; readonly primaryKey: Uint8Array }
  /** Async commit or 1PC would need a commit_ts above the client's limit: fall back to 2PC. */
  | { readonly kind: "commit-ts-too-large"; readonly commitTs: bigint };

/** One wait in a deadlock cycle: transaction `txn` waits for `waitForTxn`'s lock on `key`. */
export interface WaitForEdgeInfo {
  readonly txn: bigint;
  readonly waitForTxn: bigint;
  readonly keyHash: bigint;
  readonly key: Uint8Array;
  /** How long the wait had been known to the detector. */
  readonly waitTimeMs: bigint;
}

/** Thrown by an action that fails as a whole; the handler answers it in the response's key error. */
export class KeyErrorException extends Error {
  override readonly name = "KeyErrorException";
  constructor(readonly keyError: KeyError) {
    super(describeKeyError(keyError));
  }
}

export function describeKeyError(error: KeyError): string {
  const hex = (key: Uint8Array) => Buffer.from(key).toString("hex");
  switch (error.kind) {
    case "locked":
      return `key ${hex(error.key)} is locked by transaction ${error.lock.startTs}`;
    case "conflict":
      return `write conflict on key ${hex(error.key)}: transaction ${error.conflictStartTs} committed at ${error.conflictCommitTs}, after start_ts ${error.startTs}`;
    case "already-exist":
      return `key ${hex(error.key)} already exists`;
    case "abort":
      return error.reason;
    case "deadlock":
      return `deadlock waiting for transaction ${error.lockTs} on key ${hex(error.lockKey)}`;
    case "commit-ts-expired":
      return `commit_ts ${error.attemptedCommitTs} of transaction ${error.startTs} is below min_commit_ts ${error.minCommitTs} on key ${hex(error.key)}`;
    case "txn-not-found":
      return `transaction ${error.startTs} not found on key ${hex(error.primaryKey)}`;
    case "commit-ts-too-large":
      return `commit_ts ${error.commitTs} exceeds the transaction's max_commit_ts`;
    default:
      return error satisfies never;
  }
}
