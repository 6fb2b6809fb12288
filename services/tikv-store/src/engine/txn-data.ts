/**
 * Transactional data in the kv engine: MVCC keys under the `zx` prefix of the three data column
 * families. The raft apply writes through these helpers and reads see the same layout through
 * `RocksMvccStorage`, the production MvccStorage.
 */

import { prefixNext } from "#codec";
import type { RocksReader, WriteBatch } from "#rocksdb";
import type { MvccEntry, MvccScanOptions, MvccStorage, TxnColumnFamily } from "../mvcc/mvcc-storage.ts";
import { TXN_DATA_PREFIX, txnDataKey, txnDataSpan } from "./keys.ts";
import { CF_DEFAULT, CF_LOCK, CF_WRITE, DATA_COLUMN_FAMILIES } from "./kv-engine.ts";

const COLUMN_FAMILY: { readonly [Cf in TxnColumnFamily]: string } = {
  default: CF_DEFAULT,
  lock: CF_LOCK,
  write: CF_WRITE,
};

const TXN_SPACE_END = prefixNext(TXN_DATA_PREFIX);

export function txnPut(batch: WriteBatch, cf: TxnColumnFamily, key: Uint8Array, value: Uint8Array): void {
  batch.put(COLUMN_FAMILY[cf], txnDataKey(key), value);
}

export function txnDelete(batch: WriteBatch, cf: TxnColumnFamily, key: Uint8Array): void {
  batch.delete(COLUMN_FAMILY[cf], txnDataKey(key));
}

/** Every lock, version and value of user keys [startKey, endKey); an empty endKey means unbounded. */
export function txnDeleteRange(batch: WriteBatch, startKey: Uint8Array, endKey: Uint8Array): void {
  const span = txnDataSpan(startKey, endKey);
  for (const cf of DATA_COLUMN_FAMILIES) batch.deleteRange(cf, span.start, span.end);
}

export class RocksMvccStorage implements MvccStorage {
  constructor(
    private readonly reader: RocksReader,
    /** Runs before every read: the region reader's check that the region is still the one read. */
    private readonly beforeRead: () => void = () => {},
  ) {}

  get(cf: TxnColumnFamily, key: Uint8Array): Promise<Uint8Array | undefined> {
    this.beforeRead();
    return this.reader.get(COLUMN_FAMILY[cf], txnDataKey(key));
  }

  async scan(cf: TxnColumnFamily, options: MvccScanOptions): Promise<readonly MvccEntry[]> {
    this.beforeRead();
    const entries = await this.reader.scan(COLUMN_FAMILY[cf], {
      gte: txnDataKey(options.gte),
      lt: options.lt === undefined ? TXN_SPACE_END : txnDataKey(options.lt),
      reverse: options.reverse,
      limit: options.limit,
    });
    const prefixLength = TXN_DATA_PREFIX.length;
    return entries.map(({ key, value }) => ({ key: key.subarray(prefixLength), value }));
  }
}
