/** Locks in a key range, for ScanLock (the GC worker and the resolver) and ResolveLock over a region. */
import { decodeBytes, encodeBytes } from "#codec";
import { decodeLockRecord, type LockRecord } from "../../mvcc/lock-record.ts";
import type { MvccStorage } from "../../mvcc/mvcc-storage.ts";
import { PagedCursor } from "../../mvcc/paged-cursor.ts";

export interface LockedKey {
  readonly key: Uint8Array;
  readonly lock: LockRecord;
}

/** Locks of [startKey, endKey) (empty end = unbounded) that `accept`, up to `limit`, in key order. */
export async function scanLocks(
  storage: MvccStorage,
  range: { readonly startKey: Uint8Array; readonly endKey: Uint8Array },
  accept: (lock: LockRecord) => boolean,
  limit: number,
): Promise<LockedKey[]> {
  const cursor = new PagedCursor(
    storage,
    "lock",
    {
      gte: encodeBytes(range.startKey),
      lt: range.endKey.length === 0 ? undefined : encodeBytes(range.endKey),
    },
    false,
  );
  const found: LockedKey[] = [];
  for (
    let entry = await cursor.peek();
    entry !== undefined && found.length < limit;
    entry = await cursor.peek()
  ) {
    cursor.advance();
    const lock = decodeLockRecord(entry.value);
    if (accept(lock)) found.push({ key: decodeBytes(entry.key, 0).value, lock });
  }
  return found;
}
