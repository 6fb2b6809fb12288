/**
 * Snapshot-isolation reads at read_ts (KvGet, KvBatchGet, KvScan). A lock of a transaction that started at
 * or before read_ts may hide a version that commits below read_ts, so the read cannot answer for that key:
 * it reports the lock and the client resolves it. Locks that cannot hide such a version are read past:
 * pessimistic and Lock-type locks (they never change the value), locks whose transaction the client
 * already resolved, and locks whose min_commit_ts was pushed above read_ts.
 */
import { compareBytes, decodeBytes, decodeMvccKeyTs, encodeBytes, truncateTs } from "#codec";
import type { KeyError } from "./key-error.ts";
import { decodeLockRecord, type LockRecord } from "./lock-record.ts";
import { MvccReader } from "./mvcc-reader.ts";
import type { MvccStorage } from "./mvcc-storage.ts";
import { PagedCursor } from "./paged-cursor.ts";
import { decodeWriteRecord, type WriteRecord } from "./write-record.ts";

export interface ReadOptions {
  readonly readTs: bigint;
  /** Start timestamps of transactions the client resolved: their locks are read past. */
  readonly resolvedLocks: ReadonlySet<bigint>;
}

export type ReadPair =
  | { readonly key: Uint8Array; readonly value: Uint8Array }
  | { readonly key: Uint8Array; readonly error: KeyError };

export interface SnapshotScanOptions {
  /** Inclusive; empty = from the first key. */
  readonly startKey: Uint8Array;
  /** Exclusive; empty = unbounded. */
  readonly endKey: Uint8Array;
  readonly limit: number;
  readonly reverse: boolean;
  readonly keyOnly: boolean;
}

const EMPTY = new Uint8Array(0);

export function lockBlocksRead(lock: LockRecord, options: ReadOptions): boolean {
  if (lock.type === "pessimistic" || lock.type === "lock") return false;
  if (lock.startTs > options.readTs) return false;
  if (lock.minCommitTs > options.readTs) return false;
  return !options.resolvedLocks.has(lock.startTs);
}

export class SnapshotReader {
  private readonly reader: MvccReader;

  constructor(
    private readonly storage: MvccStorage,
    private readonly options: ReadOptions,
  ) {
    this.reader = new MvccReader(storage);
  }

  /** The value at read_ts; throws nothing for a lock but returns it as a key error. */
  async get(
    key: Uint8Array,
  ): Promise<{ readonly value: Uint8Array | undefined } | { readonly error: KeyError }> {
    const lock = await this.reader.loadLock(key);
    if (lock !== undefined && lockBlocksRead(lock, this.options)) {
      return { error: { kind: "locked", key, lock } };
    }
    return { value: await this.reader.visibleValue(key, this.options.readTs) };
  }

  /** Present keys and locked keys, in the order asked; absent keys are left out. */
  async batchGet(keys: readonly Uint8Array[]): Promise<ReadPair[]> {
    const pairs: ReadPair[] = [];
    for (const key of keys) {
      const result = await this.get(key);
      if ("error" in result) pairs.push({ key, error: result.error });
      else if (result.value !== undefined) pairs.push({ key, value: result.value });
    }
    return pairs;
  }

  /**
   * Keys of [startKey, endKey) visible at read_ts, in order (descending when reverse), up to `limit`
   * entries; a key whose lock blocks the read is an entry with its error. Walks the lock and write
   * column families side by side, one user key at a time.
   */
  async scan(options: SnapshotScanOptions): Promise<ReadPair[]> {
    const pairs: ReadPair[] = [];
    if (options.limit <= 0) return pairs;
    const range = {
      gte: encodeBytes(options.startKey),
      lt: options.endKey.length === 0 ? undefined : encodeBytes(options.endKey),
    };
    const locks = new PagedCursor(this.storage, "lock", range, options.reverse);
    const writes = new PagedCursor(this.storage, "write", range, options.reverse);
    const before = (left: Uint8Array, right: Uint8Array) =>
      options.reverse ? compareBytes(left, right) > 0 : compareBytes(left, right) < 0;
    while (pairs.length < options.limit) {
      const lockEntry = await locks.peek();
      const writeEntry = await writes.peek();
      if (lockEntry === undefined && writeEntry === undefined) break;
      const writeKey = writeEntry === undefined ? undefined : truncateTs(writeEntry.key);
      let current: Uint8Array;
      if (lockEntry === undefined) current = writeKey!;
      else if (writeKey === undefined) current = lockEntry.key;
      else current = before(lockEntry.key, writeKey) ? lockEntry.key : writeKey;
      const userKey = decodeBytes(current, 0).value;
      let blockingLock: LockRecord | undefined;
      if (lockEntry !== undefined && compareBytes(lockEntry.key, current) === 0) {
        locks.advance();
        const lock = decodeLockRecord(lockEntry.value);
        if (lockBlocksRead(lock, this.options)) blockingLock = lock;
      }
      const visible = await this.visibleOfKey(writes, current, options.reverse);
      if (blockingLock !== undefined) {
        pairs.push({ key: userKey, error: { kind: "locked", key: userKey, lock: blockingLock } });
      } else if (visible !== undefined && visible.type === "put") {
        const value = options.keyOnly ? EMPTY : await this.reader.loadValue(userKey, visible);
        pairs.push({ key: userKey, value });
      }
    }
    return pairs;
  }

  /**
   * Consumes every version of the encoded user key `current` from the cursor and returns the one a
   * reader at read_ts sees. Forward cursors meet versions newest first; reverse cursors oldest first.
   */
  private async visibleOfKey(
    writes: PagedCursor,
    current: Uint8Array,
    reverse: boolean,
  ): Promise<WriteRecord | undefined> {
    let visible: WriteRecord | undefined;
    let visibleTs = -1n;
    for (let entry = await writes.peek(); entry !== undefined; entry = await writes.peek()) {
      if (compareBytes(truncateTs(entry.key), current) !== 0) break;
      writes.advance();
      const commitTs = decodeMvccKeyTs(entry.key);
      if (commitTs > this.options.readTs || commitTs <= visibleTs) continue;
      const write = decodeWriteRecord(entry.value);
      if (write.type !== "put" && write.type !== "delete") continue;
      visible = write;
      visibleTs = commitTs;
      // Forward, the first visible version is the newest one; the rest of the key's versions are older.
      if (!reverse) {
        await skipKey(writes, current);
        break;
      }
    }
    return visible;
  }
}

async function skipKey(writes: PagedCursor, current: Uint8Array): Promise<void> {
  for (let entry = await writes.peek(); entry !== undefined; entry = await writes.peek()) {
    if (compareBytes(truncateTs(entry.key), current) !== 0) return;
    writes.advance();
  }
}
