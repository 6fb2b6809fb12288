/**
 * MVCC garbage collection below a safe point: no reader will ever read at a timestamp below it, so of the
 * versions committed at or below it only the newest Put survives (a newest Delete goes too), along with
 * everything newer. Rollback and Lock records at or below it go: every transaction that could meet them
 * is older than the safe point and has been resolved.
 *
 * Works in bounded steps: each call collects at most `maxKeys` user keys' garbage and says where to
 * continue, so one proposal stays small.
 */
import { compareBytes, decodeBytes, decodeMvccKeyTs, encodeBytes, truncateTs } from "#codec";
import type { MvccStorage } from "../../mvcc/mvcc-storage.ts";
import type { MvccTxn } from "../../mvcc/mvcc-txn.ts";
import { PagedCursor } from "../../mvcc/paged-cursor.ts";
import { decodeWriteRecord } from "../../mvcc/write-record.ts";

export interface GcStep {
  /** Where the next step starts; undefined when the range is done. */
  readonly nextKey: Uint8Array | undefined;
  readonly deletedVersions: number;
}

export async function gcRange(
  storage: MvccStorage,
  txn: MvccTxn,
  range: { readonly startKey: Uint8Array; readonly endKey: Uint8Array },
  safePoint: bigint,
  maxKeys: number,
): Promise<GcStep> {
  const cursor = new PagedCursor(
    storage,
    "write",
    {
      gte: encodeBytes(range.startKey),
      lt: range.endKey.length === 0 ? undefined : encodeBytes(range.endKey),
    },
    false,
    256,
  );
  let keys = 0;
  let deletedVersions = 0;
  let current: Uint8Array | undefined;
  let keptNewestAtSafePoint = false;
  for (let entry = await cursor.peek(); entry !== undefined; entry = await cursor.peek()) {
    const encodedUserKey = truncateTs(entry.key);
    if (current === undefined || compareBytes(current, encodedUserKey) !== 0) {
      if (keys === maxKeys) return { nextKey: decodeBytes(encodedUserKey, 0).value, deletedVersions };
      current = Uint8Array.from(encodedUserKey);
      keptNewestAtSafePoint = false;
      keys++;
    }
    cursor.advance();
    const commitTs = decodeMvccKeyTs(entry.key);
    if (commitTs > safePoint) continue;
    const write = decodeWriteRecord(entry.value);
    if (!keptNewestAtSafePoint && write.type === "put") {
      keptNewestAtSafePoint = true;
      continue;
    }
    if (write.type === "delete") keptNewestAtSafePoint = true;
    txn.deleteEncoded("write", Uint8Array.from(entry.key));
    if (write.type === "put" && write.shortValue === undefined) {
      const userKey = decodeBytes(encodedUserKey, 0).value;
      txn.deleteValue(userKey, write.startTs);
    }
    deletedVersions++;
  }
  return { nextKey: undefined, deletedVersions };
}
