import { StorageError } from "./errors.ts";

export interface KeyValue {
  readonly key: string;
  readonly value: Uint8Array;
}

/**
 * pd's metadata store. Keys are strings relative to the backend's root (see meta-keys.ts); values are bytes.
 * Reads may be served by any member. Writes are leader-only: with etcd each write is a transaction that
 * succeeds only while this member still holds the leader key it won, so a deposed leader can never
 * overwrite its successor's state; otherwise the write fails with NotLeaderError.
 */
export interface MetaStorage {
  load(key: string): Promise<Uint8Array | undefined>;
  /** Keys in [startKey, endKey) in ascending order, at most `limit`; an empty endKey means "no upper bound". */
  loadRange(startKey: string, endKey: string, limit: number): Promise<KeyValue[]>;
  save(key: string, value: Uint8Array): Promise<void>;
  /** All puts and deletes atomically; at most MAX_BATCH_OPERATIONS in total (etcd's transaction limit). */
  saveBatch(puts: ReadonlyArray<KeyValue>, deletes?: readonly string[]): Promise<void>;
  remove(key: string): Promise<void>;
}

/** etcd's default `--max-txn-ops`; the embedded backend enforces it too so both behave alike. */
export const MAX_BATCH_OPERATIONS = 128;

/** loadRange limits above this are refused: a caller wanting more pages through with a moving start key. */
export const MAX_LOAD_RANGE_LIMIT = 10_000;

export function checkLoadRangeLimit(limit: number): void {
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LOAD_RANGE_LIMIT) {
    throw new StorageError(
      "loadRange",
      undefined,
      `limit must be an integer in [1, ${MAX_LOAD_RANGE_LIMIT}], got ${limit}`,
    );
  }
}

export function checkBatchSize(operations: number): void {
  if (operations > MAX_BATCH_OPERATIONS) {
    throw new StorageError(
      "saveBatch",
      undefined,
      `${operations} operations exceed the limit of ${MAX_BATCH_OPERATIONS}`,
    );
  }
}
