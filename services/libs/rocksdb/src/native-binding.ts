/**
 * Types for the part of `@nxtedition/rocksdb` (an abstract-level `RocksLevel`, shipped without .d.ts) this
 * library uses, written from its JavaScript and binding.cc. Nothing outside this library sees these types.
 *
 * What the binding offers and what it lacks shapes the facade:
 * - column families: `open({ columns: { name: {} } })`, then `db.columns[name]` is an opaque handle passed as
 *   `{ column }` to reads, iterators and batch operations. RocksDB insists on `default` being listed and on
 *   every existing family being opened.
 * - `batch_write(db, batch, { sync })` runs `DB::Write` synchronously on the calling thread (fsync
 *   included). We fill and write batches through the binding's functions directly: abstract-level's
 *   chained batch checks and wraps every operation, which cost more than the write itself (profiled).
 * - no `ReadOptions.snapshot` and no `WriteBatch::DeleteRange`; see snapshot.ts and write-batch.ts.
 * - iterators pin a consistent view of their column family from the moment they are created.
 */
import { createRequire } from "node:module";

declare const columnHandleBrand: unique symbol;
/** A `rocksdb::ColumnFamilyHandle*` wrapped as a napi external. */
export interface NativeColumnHandle {
  readonly [columnHandleBrand]: true;
}

export interface NativeRange {
  readonly gt?: Buffer;
  readonly gte?: Buffer;
  readonly lt?: Buffer;
  readonly lte?: Buffer;
}

interface NativeEncodings {
  readonly keyEncoding: "buffer";
  readonly valueEncoding: "buffer";
}

export interface NativeIteratorOptions extends NativeRange, NativeEncodings {
  readonly column: NativeColumnHandle;
  readonly reverse: boolean;
  /** -1 means unlimited. */
  readonly limit: number;
}

export interface NativeQueryOptions extends NativeRange, NativeEncodings {
  readonly column: NativeColumnHandle;
  readonly keys: true;
  readonly values: boolean;
  readonly limit: number;
}

export interface NativeIterator {
  /** Resolves with at most `size` entries; an empty array once the iterator is exhausted. */
  nextv(size: number): Promise<Array<[Buffer, Buffer]>>;
  /** Forward: first key >= target. Reverse: last key <= target. The target must not be empty. */
  seek(target: Buffer): void;
  close(): Promise<void>;
}

declare const writeBatchBrand: unique symbol;
/** A `rocksdb::WriteBatch*` wrapped as a napi external (freed when collected). */
export interface NativeWriteBatch {
  readonly [writeBatchBrand]: true;
}

declare const databaseContextBrand: unique symbol;
/** A `Database*` wrapped as a napi external that does not own it (closing stays with the RocksLevel). */
export interface NativeDatabaseContext {
  readonly [databaseContextBrand]: true;
}

export interface NativeOpenOptions {
  readonly createIfMissing: boolean;
  readonly columns: Readonly<Record<string, Record<string, never>>>;
}

export interface NativeRocksLevel {
  readonly status: "opening" | "open" | "closing" | "closed";
  readonly columns: Readonly<Record<string, NativeColumnHandle>>;
  open(options: NativeOpenOptions): Promise<void>;
  close(): Promise<void>;
  /** `undefined` for a missing key; `null` only if a value exceeded a size limit we never set. */
  getMany(
    keys: Buffer[],
    options: NativeEncodings & { readonly column: NativeColumnHandle },
  ): Promise<Array<Buffer | undefined | null>>;
  /** The binding's `Database*` as a number, valid while the database is open. */
  readonly handle: bigint;
  iterator(options: NativeIteratorOptions): NativeIterator;
  /** Reads a whole range synchronously; rows alternate key, value (`undefined` when `values` is false). */
  querySync(options: NativeQueryOptions): { rows: Array<Buffer | undefined>; finished: boolean };
}

/** The binding's batch functions; a batch without a `column` writes to the default column family. */
export interface NativeBinding {
  db_init(handle: bigint): NativeDatabaseContext;
  batch_init(): NativeWriteBatch;
  batch_put(
    batch: NativeWriteBatch,
    key: Buffer,
    value: Buffer,
    options: { readonly column?: NativeColumnHandle },
  ): void;
  batch_del(batch: NativeWriteBatch, key: Buffer, options: { readonly column?: NativeColumnHandle }): void;
  batch_write(
    database: NativeDatabaseContext,
    batch: NativeWriteBatch,
    options: { readonly sync: boolean },
  ): void;
  batch_clear(batch: NativeWriteBatch): void;
}

interface RocksDbModule {
  readonly RocksLevel: new (location: string, options: NativeEncodings) => NativeRocksLevel;
}

const require = createRequire(import.meta.url);
const { RocksLevel } = require("@nxtedition/rocksdb") as RocksDbModule;
/** The same addon instance the RocksLevel class uses (node-gyp-build loads it once per thread). */
export const nativeBinding = require("@nxtedition/rocksdb/binding") as NativeBinding;

export function createNativeDatabase(path: string): NativeRocksLevel {
  return new RocksLevel(path, { keyEncoding: "buffer", valueEncoding: "buffer" });
}

/** A Buffer view of the same bytes: the binding's direct calls accept Buffers, not plain Uint8Arrays. */
export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
