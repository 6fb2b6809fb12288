/**
 * A consistent read view across column families.
 *
 * The binding has no `ReadOptions.snapshot`, but every RocksDB iterator reads the state at the sequence
 * number current when it was created, and `seek` moves it within that same state. A snapshot is therefore
 * one forward and one reverse unbounded iterator per column family, all created in the same synchronous
 * step — writes happen synchronously on this thread, so none can fall between them. Point reads seek and
 * check for an exact match; range reads seek and stop at the bounds themselves.
 *
 * Like a RocksDB snapshot it pins memtables and files until `release()`; closing the database releases it.
 */
import {
  isAboveLowerBound,
  isBelowUpperBound,
  KEY_ABOVE_ALL,
  type KeyRange,
  SMALLEST_KEY,
} from "./key-range.ts";
import { asBuffer } from "./native-binding.ts";
import type { PinnedCursor } from "./pinned-cursor.ts";
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

export interface SnapshotCursors {
  readonly forward: PinnedCursor;
  readonly reverse: PinnedCursor;
}

export class Snapshot implements RocksReader {
  private released = false;

  constructor(
    private readonly path: string,
    private readonly cursors: ReadonlyMap<string, SnapshotCursors>,
  ) {}

  async get(columnFamily: string, key: Uint8Array): Promise<Uint8Array | undefined> {
    const cursor = this.cursorsOf(columnFamily, "snapshot get").forward;
    if (key.length === 0) return undefined;
    const [entry] = await this.guard("snapshot get", columnFamily, cursor.read(asBuffer(key), 1));
    return entry && Buffer.compare(entry[0], key) === 0 ? entry[1] : undefined;
  }

  async getMany(columnFamily: string, keys: readonly Uint8Array[]): Promise<Array<Uint8Array | undefined>> {
    return Promise.all(keys.map((key) => this.get(columnFamily, key)));
  }

  iterate(columnFamily: string, options: IterateOptions = {}): AsyncIterableIterator<Entry> {
    return flattenChunks(this.chunks(columnFamily, options, CHUNK_ENTRIES));
  }

  scan(columnFamily: string, options: ScanOptions): Promise<Entry[]> {
    return collectChunks(this.chunks(columnFamily, options, CHUNK_ENTRIES));
  }

  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    for (const { forward, reverse } of this.cursors.values()) {
      await Promise.all([forward.close(), reverse.close()]);
    }
  }

  private async *chunks(columnFamily: string, options: IterateOptions, chunkSize: number) {
    const cursors = this.cursorsOf(columnFamily, "snapshot iterate");
    const problem = readOptionsProblem(options);
    if (problem) throw new RocksDbError("snapshot iterate", this.path, columnFamily, problem);
    const reverse = options.reverse ?? false;
    const cursor = reverse ? cursors.reverse : cursors.forward;
    let remaining = options.limit ?? Number.POSITIVE_INFINITY;
    let resumeAfter: Buffer | undefined;
    while (remaining > 0) {
      const target = resumeAfter ?? (reverse ? upperSeekTarget(options) : lowerSeekTarget(options));
      const size = Math.min(chunkSize, remaining);
      // One extra entry: the resume key itself (or an exclusive bound) comes back first and is dropped.
      const raw = await this.guard("snapshot iterate", columnFamily, cursor.read(target, size + 1));
      const { entries, done } = selectInRange(raw, options, reverse, resumeAfter, remaining);
      if (entries.length > 0) {
        remaining -= entries.length;
        resumeAfter = asBuffer(entries[entries.length - 1]!.key);
        yield entries;
      }
      if (done || raw.length <= size) return;
    }
  }

  private cursorsOf(columnFamily: string, operation: string): SnapshotCursors {
    if (this.released)
      throw new RocksDbError(operation, this.path, columnFamily, "snapshot already released");
    const cursors = this.cursors.get(columnFamily);
    if (!cursors) throw new RocksDbError(operation, this.path, columnFamily, "unknown column family");
    return cursors;
  }

  private async guard<T>(operation: string, columnFamily: string, read: Promise<T>): Promise<T> {
    try {
      return await read;
    } catch (error) {
      throw RocksDbError.wrap(operation, this.path, columnFamily, error);
    }
  }
}

function lowerSeekTarget(range: KeyRange): Buffer {
  const bound = range.gte ?? range.gt;
  return bound && bound.length > 0 ? asBuffer(bound) : SMALLEST_KEY;
}

function upperSeekTarget(range: KeyRange): Buffer {
  const bound = range.lte ?? range.lt;
  return bound ? asBuffer(bound) : KEY_ABOVE_ALL;
}

/**
 * Keeps the raw entries inside the range, dropping the resume key and exclusive bounds the seek lands on.
 * `done` once an entry falls past the far bound or the limit is reached.
 */
function selectInRange(
  raw: ReadonlyArray<[Buffer, Buffer]>,
  range: KeyRange,
  reverse: boolean,
  resumeAfter: Buffer | undefined,
  limit: number,
): { entries: Entry[]; done: boolean } {
  const entries: Entry[] = [];
  for (const [key, value] of raw) {
    if (resumeAfter && Buffer.compare(key, resumeAfter) === 0) continue;
    const nearOk = reverse ? isBelowUpperBound(key, range) : isAboveLowerBound(key, range);
    if (!nearOk) continue;
    const farOk = reverse ? isAboveLowerBound(key, range) : isBelowUpperBound(key, range);
    if (!farOk) return { entries, done: true };
    entries.push({ key, value });
    if (entries.length >= limit) return { entries, done: true };
  }
  return { entries, done: false };
}
