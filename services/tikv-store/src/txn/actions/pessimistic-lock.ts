/**
 * PessimisticLock (SELECT ... FOR UPDATE, and every write of a pessimistic transaction before its
 * prewrite): lock keys at for_update_ts so no one else can commit them meanwhile. The lock holds no value;
 * the prewrite turns it into a normal lock. All or nothing: if any key fails, nothing is written, and a
 * key locked by another transaction is returned so the scheduler can wait for it.
 */
import type { KeyError } from "../../mvcc/key-error.ts";
import type { MvccReader } from "../../mvcc/mvcc-reader.ts";
import type { MvccTxn } from "../../mvcc/mvcc-txn.ts";
import { newerVersionConflict } from "./write-conflict.ts";

export interface PessimisticLockParams {
  readonly keys: ReadonlyArray<{ readonly key: Uint8Array; readonly shouldNotExist: boolean }>;
  readonly primary: Uint8Array;
  readonly startTs: bigint;
  readonly forUpdateTs: bigint;
  readonly lockTtlMs: bigint;
  readonly minCommitTs: bigint;
  readonly returnValues: boolean;
}

export type PessimisticLockResult =
  | { readonly kind: "locked-all"; readonly values: ReadonlyArray<Uint8Array | undefined> }
  | { readonly kind: "error"; readonly error: KeyError };

export async function pessimisticLock(
  reader: MvccReader,
  txn: MvccTxn,
  params: PessimisticLockParams,
): Promise<PessimisticLockResult> {
  const values: Array<Uint8Array | undefined> = [];
  for (const { key, shouldNotExist } of params.keys) {
    const lock = await reader.loadLock(key);
    if (lock !== undefined && lock.startTs !== params.startTs) {
      return { kind: "error", error: { kind: "locked", key, lock } };
    }
    if (lock === undefined) {
      const settled = await settledTxnError(reader, key, params.startTs);
      if (settled !== undefined) return { kind: "error", error: settled };
      const conflict = await newerVersionConflict(
        reader,
        key,
        params.primary,
        params.startTs,
        params.forUpdateTs + 1n,
      );
      if (conflict !== undefined) return { kind: "error", error: conflict };
    }
    const value =
      params.returnValues || shouldNotExist ? await reader.visibleValue(key, params.forUpdateTs) : undefined;
    if (shouldNotExist && value !== undefined)
      return { kind: "error", error: { kind: "already-exist", key } };
    values.push(params.returnValues ? value : undefined);
    if (lock === undefined) {
      txn.putLock(key, {
        type: "pessimistic",
        primary: params.primary,
        startTs: params.startTs,
        ttlMs: params.lockTtlMs,
        shortValue: undefined,
        forUpdateTs: params.forUpdateTs,
        txnSize: 0n,
        minCommitTs: params.minCommitTs,
        useAsyncCommit: false,
        secondaries: [],
      });
    } else if (lock.type === "pessimistic" && lock.forUpdateTs < params.forUpdateTs) {
      txn.putLock(key, {
        ...lock,
        forUpdateTs: params.forUpdateTs,
        ttlMs: lock.ttlMs > params.lockTtlMs ? lock.ttlMs : params.lockTtlMs,
      });
    }
    // Our own prewrite lock already: the key is ours, nothing to change.
  }
  return { kind: "locked-all", values };
}

/**
 * A request arriving after its transaction ended on the key (a resolver rolled it back, or it committed
 * and this is a stale retry) must not leave a lock behind.
 */
async function settledTxnError(
  reader: MvccReader,
  key: Uint8Array,
  startTs: bigint,
): Promise<KeyError | undefined> {
  const record = await reader.txnCommitRecord(key, startTs);
  if (record.kind === "rolled-back") {
    return { kind: "abort", reason: `pessimistic lock of transaction ${startTs} was rolled back` };
  }
  if (record.kind === "committed") {
    return { kind: "abort", reason: `transaction ${startTs} already committed at ${record.commitTs}` };
  }
  return undefined;
}

/** Drops our pessimistic locks taken at or before for_update_ts (a statement rolled back its locks). */
export async function pessimisticRollback(
  reader: MvccReader,
  txn: MvccTxn,
  keys: readonly Uint8Array[],
  startTs: bigint,
  forUpdateTs: bigint,
): Promise<void> {
  for (const key of keys) {
    const lock = await reader.loadLock(key);
    if (lock === undefined || lock.startTs !== startTs || lock.type !== "pessimistic") continue;
    if (lock.forUpdateTs > forUpdateTs) continue;
    txn.unlockKey(key, lock, undefined);
  }
}
