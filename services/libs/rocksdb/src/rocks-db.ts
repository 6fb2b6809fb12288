import { InvalidKeyError } from "./invalid-key-error.ts";
import { isAboveLowerBound, isBelowUpperBound, type KeyRange, toNativeRange } from "./key-range.ts";
import {
  asBuffer,
  createNativeDatabase,
  type NativeColumnHandle,
  type NativeDatabaseContext,
  type NativeIterator,
  type NativeRocksLevel,
  type NativeWriteBatch,
  nativeBinding,
} from "./native-binding.ts";
import { PinnedCursor } from "./pinned-cursor.ts";
import { RocksDbError } from "./rocks-db-error.ts";
import {
  CHUNK_ENTRIES,
  collectChunks,
  type Entry,
  flattenChunks,
  type IterateOptions,
  type RocksReader,
  readOptionsProblem,
  type ScanOptions,
} from "./rocks-reader.ts";
import { Snapshot, type SnapshotCursors } from "./snapshot.ts";
import { type BatchOperation, WriteBatch } from "./write-batch.ts";

export interface OpenRocksDbOptions {
  readonly path: string;
  /** Every column family the database has or should get; RocksDB refuses to open with one missing. */
  readonly columnFamilies: readonly string[];
  readonly createIfMissing: boolean;
}

export interface WriteOptions {
  /** fsync the write-ahead log before resolving: the write survives a crash of the process or machine. */
  readonly sync: boolean;
}

const ENCODINGS = { keyEncoding: "buffer", valueEncoding: "buffer" } as const;

/** Keys read per synchronous step while expanding a range delete. */
const RANGE_DELETE_CHUNK_KEYS = 10_000;

export async function openRocksDb(options: OpenRocksDbOptions): Promise<RocksDb> {
  const names = [...new Set(options.columnFamilies)];
  if (names.length === 0) throw new RocksDbError("open", options.path, undefined, "no column families given");
  const native = createNativeDatabase(options.path);
  // RocksDB requires the default family to be opened even when nobody uses it.
  const columns: Record<string, Record<string, never>> = { default: {} };
  for (const name of names) columns[name] = {};
  try {
    await native.open({ createIfMissing: options.createIfMissing, columns });
  } catch (error) {
    throw RocksDbError.wrap("open", options.path, undefined, error);
  }
  const handles = new Map<string, NativeColumnHandle>();
  for (const name of names) handles.set(name, native.columns[name]!);
  return new RocksDb(options.path, native, handles);
}

/**
 * A RocksDB instance with named column families. Keys and values are bytes; keys are 1..MAX_KEY_BYTES long.
 * Writes run synchronously inside the binding (a sync write blocks the event loop for its fsync), so
 * batch many changes into one `write` rather than issuing many small synced writes.
 */
export class RocksDb implements RocksReader {
  readonly columnFamilies: readonly string[];
  private nativeContext: NativeDatabaseContext | undefined;

  constructor(
    readonly path: string,
    private readonly native: NativeRocksLevel,
    private readonly handles: ReadonlyMap<string, NativeColumnHandle>,
  ) {
    this.columnFamilies = [...handles.keys()];
  }

  async get(columnFamily: string, key: Uint8Array): Promise<Uint8Array | undefined> {
    const [value] = await this.getMany(columnFamily, [key]);
    return value;
  }

  async getMany(columnFamily: string, keys: readonly Uint8Array[]): Promise<Array<Uint8Array | undefined>> {
    const column = this.column(columnFamily, "get");
    let values: Array<Buffer | undefined | null>;
    try {
      values = await this.native.getMany(keys.map(asBuffer), { column, ...ENCODINGS });
    } catch (error) {
      throw RocksDbError.wrap("get", this.path, columnFamily, error);
    }
    return values.map((value) => {
      if (value === null) throw new RocksDbError("get", this.path, columnFamily, "value read was aborted");
      return value;
    });
  }

  async put(columnFamily: string, key: Uint8Array, value: Uint8Array, options: WriteOptions): Promise<void> {
    await this.write(new WriteBatch().put(columnFamily, key, value), options);
  }

  async delete(columnFamily: string, key: Uint8Array, options: WriteOptions): Promise<void> {
    await this.write(new WriteBatch().delete(columnFamily, key), options);
  }

  /** Applies every operation of the batch atomically and in order. */
  async write(batch: WriteBatch, options: WriteOptions): Promise<void> {
    this.assertOpen("write", undefined);
    const nativeBatch = nativeBinding.batch_init();
    try {
      // Filling and writing happen in one synchronous step, so range deletes see exactly the state
      // they overwrite: no other write can run in between.
      this.fill(nativeBatch, batch.operations);
      nativeBinding.batch_write(this.databaseContext(), nativeBatch, { sync: options.sync });
    } catch (error) {
      if (error instanceof RocksDbError || error instanceof InvalidKeyError) throw error;
      throw RocksDbError.wrap("write", this.path, undefined, error);
    } finally {
      // Frees the batch's memory now rather than when the collector finds the handle.
      nativeBinding.batch_clear(nativeBatch);
    }
  }

  iterate(columnFamily: string, options: IterateOptions = {}): AsyncIterableIterator<Entry> {
    return flattenChunks(this.chunks(columnFamily, options));
  }

  scan(columnFamily: string, options: ScanOptions): Promise<Entry[]> {
    return collectChunks(this.chunks(columnFamily, options));
  }

  /** A consistent view of every column family as of now; release it when done. */
  snapshot(): Snapshot {
    this.assertOpen("snapshot", undefined);
    const cursors = new Map<string, SnapshotCursors>();
    for (const [name, column] of this.handles) {
      const unbounded = { column, limit: -1, ...ENCODINGS };
      cursors.set(name, {
        forward: new PinnedCursor(this.native.iterator({ ...unbounded, reverse: false })),
        reverse: new PinnedCursor(this.native.iterator({ ...unbounded, reverse: true })),
      });
    }
    return new Snapshot(this.path, cursors);
  }

  get isOpen(): boolean {
    return this.native.status === "open";
  }

  /** Waits for in-flight reads, closes open iterators and snapshots, then the database. Idempotent. */
  async close(): Promise<void> {
    if (this.native.status === "closed") return;
    try {
      await this.native.close();
    } catch (error) {
      throw RocksDbError.wrap("close", this.path, undefined, error);
    }
  }

  private async *chunks(columnFamily: string, options: IterateOptions): AsyncGenerator<Entry[]> {
    const column = this.column(columnFamily, "iterate");
    const problem = readOptionsProblem(options);
    if (problem) throw new RocksDbError("iterate", this.path, columnFamily, problem);
    const iterator = this.openIterator(columnFamily, column, options);
    let iterationFailure: unknown;
    try {
      let remaining = options.limit ?? Number.POSITIVE_INFINITY;
      while (remaining > 0) {
        let raw: Array<[Buffer, Buffer]>;
        try {
          raw = await iterator.nextv(Math.min(CHUNK_ENTRIES, remaining));
        } catch (error) {
          throw RocksDbError.wrap("iterate", this.path, columnFamily, error);
        }
        if (raw.length === 0) return;
        remaining -= raw.length;
        yield raw.map(([key, value]) => ({ key, value }));
      }
    } catch (error) {
      iterationFailure = error;
      throw error;
    } finally {
      await this.closeIterator(iterator, columnFamily, iterationFailure);
    }
  }

  /** Closes an iterator; a failure to close is reported, together with the iteration's own if it failed. */
  private async closeIterator(
    iterator: NativeIterator,
    columnFamily: string,
    iterationFailure: unknown,
  ): Promise<void> {
    try {
      await iterator.close();
    } catch (error) {
      const closing = RocksDbError.wrap("close an iterator", this.path, columnFamily, error);
      if (iterationFailure === undefined) throw closing;
      const first = iterationFailure instanceof Error ? iterationFailure.message : String(iterationFailure);
      throw new RocksDbError("iterate", this.path, columnFamily, `${first}; then ${closing.message}`, {
        cause: iterationFailure,
      });
    }
  }

  private openIterator(
    columnFamily: string,
    column: NativeColumnHandle,
    options: IterateOptions,
  ): NativeIterator {
    try {
      return this.native.iterator({
        column,
        reverse: options.reverse ?? false,
        limit: options.limit ?? -1,
        ...ENCODINGS,
        ...toNativeRange(options),
      });
    } catch (error) {
      throw RocksDbError.wrap("iterate", this.path, columnFamily, error);
    }
  }

  private fill(nativeBatch: NativeWriteBatch, operations: readonly BatchOperation[]): void {
    for (const [index, operation] of operations.entries()) {
      const column = this.column(operation.columnFamily, "write");
      switch (operation.kind) {
        case "put":
          nativeBinding.batch_put(nativeBatch, asBuffer(operation.key), asBuffer(operation.value), {
            column,
          });
          break;
        case "delete":
          nativeBinding.batch_del(nativeBatch, asBuffer(operation.key), { column });
          break;
        case "delete-range":
          this.fillRangeDelete(nativeBatch, column, operation, operations.slice(0, index));
          break;
        default:
          operation satisfies never;
      }
    }
  }

  private fillRangeDelete(
    nativeBatch: NativeWriteBatch,
    column: NativeColumnHandle,
    operation: Extract<BatchOperation, { kind: "delete-range" }>,
    earlier: readonly BatchOperation[],
  ): void {
    const range: KeyRange = { gte: operation.start, ...(operation.end && { lt: operation.end }) };
    if (operation.end && Buffer.compare(operation.start, operation.end) >= 0) return;
    for (const key of this.keysInRange(column, range)) nativeBinding.batch_del(nativeBatch, key, { column });
    // Keys put earlier in this batch are not in the database yet, but the range delete covers them too.
    for (const previous of earlier) {
      if (previous.kind !== "put" || previous.columnFamily !== operation.columnFamily) continue;
      if (isAboveLowerBound(previous.key, range) && isBelowUpperBound(previous.key, range)) {
        nativeBinding.batch_del(nativeBatch, asBuffer(previous.key), { column });
      }
    }
  }

  private *keysInRange(column: NativeColumnHandle, range: KeyRange): Generator<Buffer> {
    let lower: KeyRange = range;
    for (;;) {
      const { rows } = this.native.querySync({
        column,
        keys: true,
        values: false,
        limit: RANGE_DELETE_CHUNK_KEYS,
        ...ENCODINGS,
        ...toNativeRange(lower),
      });
      let last: Buffer | undefined;
      for (let index = 0; index < rows.length; index += 2) {
        last = rows[index]!;
        yield last;
      }
      if (!last || rows.length / 2 < RANGE_DELETE_CHUNK_KEYS) return;
      lower = { gt: last, ...(range.lt && { lt: range.lt }) };
    }
  }

  private column(columnFamily: string, operation: string): NativeColumnHandle {
    this.assertOpen(operation, columnFamily);
    const handle = this.handles.get(columnFamily);
    if (!handle) throw new RocksDbError(operation, this.path, columnFamily, "unknown column family");
    return handle;
  }

  /** The database for the binding's direct batch calls; only used after `assertOpen`. */
  private databaseContext(): NativeDatabaseContext {
    this.nativeContext ??= nativeBinding.db_init(this.native.handle);
    return this.nativeContext;
  }

  private assertOpen(operation: string, columnFamily: string | undefined): void {
    if (this.native.status !== "open") {
      throw new RocksDbError(operation, this.path, columnFamily, `database is ${this.native.status}`);
    }
  }
}
