/**
 * The requests the model-based test's clients (SimulatedTxn and its LockResolver) send to a store, in the
 * actions' own terms (KeyError, LockRecord, TxnStatus), so one workload, one snapshot-isolation model and
 * one set of checks run against the pure actions over an in-memory store (HarnessTxnRequests) and against a
 * real store over gRPC (GrpcTxnRequests). Each method is one request, that is one command of the store.
 */
import type { KeyError } from "../../mvcc/key-error.ts";
import type { LockRecord } from "../../mvcc/lock-record.ts";
import type { ReadOptions } from "../../mvcc/snapshot-reader.ts";
import type { SecondaryLocksStatus } from "../../txn/actions/check-secondary-locks.ts";
import type { CheckTxnStatusParams, TxnStatus } from "../../txn/actions/check-txn-status.ts";
import type { PessimisticLockParams, PessimisticLockResult } from "../../txn/actions/pessimistic-lock.ts";
import type { PrewriteParams, PrewriteResult } from "../../txn/actions/prewrite.ts";

/** Where timestamps come from: the test's simulated clock, or pd's TSO (a PdClient fits as it is). */
export interface TimestampOracle {
  getTimestamp(): Promise<bigint>;
}

export type PointRead = { readonly value: Uint8Array | undefined } | { readonly error: KeyError };

/** The visible pairs in key order, or the first key whose lock blocked the scan. */
export type RangeRead =
  | { readonly pairs: ReadonlyArray<{ readonly key: Uint8Array; readonly value: Uint8Array }> }
  | { readonly error: KeyError };

/** User keys [startKey, endKey); an empty endKey is unbounded. */
export interface KeyRange {
  readonly startKey: Uint8Array;
  readonly endKey: Uint8Array;
}

export interface ScanRange extends KeyRange {
  readonly reverse: boolean;
  readonly limit: number;
}

/** The store computes max_ts + 1 (commitTsFloor) itself. */
export type PrewriteRequest = Omit<PrewriteParams, "commitTsFloor">;

export interface PessimisticLockRequest extends PessimisticLockParams {
  /** The transaction's first lock cannot close a deadlock cycle: the store skips detection. */
  readonly isFirstLock: boolean;
}

export type HeartBeatResult = { readonly ttlMs: bigint } | { readonly error: KeyError };

export interface TxnRequests {
  get(key: Uint8Array, read: ReadOptions): Promise<PointRead>;
  scan(range: ScanRange, read: ReadOptions): Promise<RangeRead>;
  prewrite(request: PrewriteRequest): Promise<PrewriteResult>;
  commit(keys: readonly Uint8Array[], startTs: bigint, commitTs: bigint): Promise<KeyError | undefined>;
  batchRollback(keys: readonly Uint8Array[], startTs: bigint): Promise<KeyError | undefined>;
  pessimisticLock(request: PessimisticLockRequest): Promise<PessimisticLockResult>;
  pessimisticRollback(keys: readonly Uint8Array[], startTs: bigint, forUpdateTs: bigint): Promise<void>;
  txnHeartBeat(primary: Uint8Array, startTs: bigint, adviseTtlMs: bigint): Promise<HeartBeatResult>;
  checkTxnStatus(params: CheckTxnStatusParams): Promise<TxnStatus>;
  checkSecondaryLocks(keys: readonly Uint8Array[], startTs: bigint): Promise<SecondaryLocksStatus>;
  /** ResolveLock on given keys (lite resolve): commits the transaction's locks among them at commitTs > 0. */
  commitLocks(keys: readonly Uint8Array[], startTs: bigint, commitTs: bigint): Promise<KeyError | undefined>;
  /** Every lock in the range, as ScanLock finds them. */
  scanLocks(range: KeyRange): Promise<ReadonlyArray<{ readonly key: Uint8Array; readonly lock: LockRecord }>>;
}
