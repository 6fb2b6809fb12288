/**
 * Everything stored for one key — its lock, every write record and every default-CF value — for the
 * operator's `ctl txn mvcc` and for tests that check what a command left behind. Bounded: a hot key may
 * hold many versions until GC.
 */
import { appendTs, decodeMvccKeyTs, encodeBytes, prefixNext } from "#codec";
import type { LockRecord } from "./lock-record.ts";
import { MvccReader, TS_MAX, type WriteVersion } from "./mvcc-reader.ts";
import type { MvccStorage } from "./mvcc-storage.ts";

export interface KeyHistory {
  readonly lock: LockRecord | undefined;
  /** Newest first. */
  readonly writes: readonly WriteVersion[];
  /** By start_ts, newest first. */
  readonly values: ReadonlyArray<{ readonly startTs: bigint; readonly value: Uint8Array }>;
  /** More versions or values exist than were returned. */
  readonly truncated: boolean;
}

export async function keyHistory(
  storage: MvccStorage,
  key: Uint8Array,
  maxVersions: number,
): Promise<KeyHistory> {
  const reader = new MvccReader(storage);
  const writes: WriteVersion[] = [];
  let truncated = false;
  for await (const version of reader.versions(key)) {
    if (writes.length === maxVersions) {
      truncated = true;
      break;
    }
    writes.push(version);
  }
  const encoded = encodeBytes(key);
  const entries = await storage.scan("default", {
    gte: appendTs(encoded, TS_MAX),
    lt: prefixNext(encoded),
    reverse: false,
    limit: maxVersions + 1,
  });
  if (entries.length > maxVersions) truncated = true;
  return {
    lock: await reader.loadLock(key),
    writes,
    values: entries
      .slice(0, maxVersions)
      .map((entry) => ({ startTs: decodeMvccKeyTs(entry.key), value: entry.value })),
    truncated,
  };
}
