/** TxnHeartBeat: a long transaction keeps its primary lock alive. A TTL only ever grows. */
import type { KeyError } from "../../mvcc/key-error.ts";
import type { MvccReader } from "../../mvcc/mvcc-reader.ts";
import type { MvccTxn } from "../../mvcc/mvcc-txn.ts";

export async function txnHeartBeat(
  reader: MvccReader,
  txn: MvccTxn,
  primary: Uint8Array,
  startTs: bigint,
  adviseTtlMs: bigint,
): Promise<{ readonly ttlMs: bigint } | { readonly error: KeyError }> {
  const lock = await reader.loadLock(primary);
  if (lock === undefined || lock.startTs !== startTs) {
    return { error: { kind: "txn-not-found", startTs, primaryKey: primary } };
  }
  if (adviseTtlMs <= lock.ttlMs) return { ttlMs: lock.ttlMs };
  txn.putLock(primary, { ...lock, ttlMs: adviseTtlMs });
  return { ttlMs: adviseTtlMs };
}
