/**
 * What the MVCC layer reads through. Keys are MVCC keys (memcomparable user key, with `~ts` appended in
 * the default and write column families); the store's adapter maps them into its engine's key space, and
 * tests use an in-memory map. Keeping RocksDB behind this interface is what keeps `mvcc/` and the txn
 * actions pure.
 */
export type TxnColumnFamily = "default" | "lock" | "write";

export interface MvccEntry {
  readonly key: Uint8Array;
  readonly value: Uint8Array;
}

export interface MvccScanOptions {
  /** Inclusive lower bound. */
  readonly gte: Uint8Array;
  /** Exclusive upper bound; undefined means the end of the column family. */
  readonly lt: Uint8Array | undefined;
  /** Largest key first; the range is still [gte, lt). */
  readonly reverse: boolean;
  readonly limit: number;
}

export interface MvccStorage {
  get(cf: TxnColumnFamily, key: Uint8Array): Promise<Uint8Array | undefined>;
  scan(cf: TxnColumnFamily, options: MvccScanOptions): Promise<readonly MvccEntry[]>;
}
