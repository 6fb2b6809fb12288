export { InvalidKeyError } from "./invalid-key-error.ts";
export { type KeyRange, MAX_KEY_BYTES } from "./key-range.ts";
export { type OpenRocksDbOptions, openRocksDb, RocksDb, type WriteOptions } from "./rocks-db.ts";
export { RocksDbError } from "./rocks-db-error.ts";
export {
  type Entry,
  type IterateOptions,
  MAX_LIMIT,
  type RocksReader,
  type ScanOptions,
} from "./rocks-reader.ts";
export { Snapshot } from "./snapshot.ts";
export { type BatchOperation, WriteBatch } from "./write-batch.ts";
