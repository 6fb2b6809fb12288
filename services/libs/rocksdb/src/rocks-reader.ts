import type { KeyRange } from "./key-range.ts";
import { rangeProblem } from "./key-range.ts";

export interface Entry {
  /** May be a view into a larger buffer the binding filled; copy it before keeping it for long. */
  readonly key: Uint8Array;
  readonly value: Uint8Array;
}

export interface IterateOptions extends KeyRange {
  /** Largest key first. */
  readonly reverse?: boolean;
  /** At most this many entries; unlimited when absent. */
  readonly limit?: number;
}

export interface ScanOptions extends IterateOptions {
  /** Required: `scan` materialises its result, so it must be bounded. */
  readonly limit: number;
}

/**
 * Read access shared by the live database (latest committed state) and a `Snapshot` (state pinned when the
 * snapshot was taken), so code that reads — a region snapshot generator, a consistency check — can take
 * either.
 */
export interface RocksReader {
  get(columnFamily: string, key: Uint8Array): Promise<Uint8Array | undefined>;
  /** Results in the order of `keys`; one consistent read when the reader is a snapshot or `keys` are in one call. */
  getMany(columnFamily: string, keys: readonly Uint8Array[]): Promise<Array<Uint8Array | undefined>>;
  /** Entries in key order (or reverse); breaking out of the loop releases the native iterator. */
  iterate(columnFamily: string, options?: IterateOptions): AsyncIterableIterator<Entry>;
  /** Like `iterate`, collected into an array, fetched in large native batches (faster for bounded reads). */
  scan(columnFamily: string, options: ScanOptions): Promise<Entry[]>;
}

/** The binding takes an int32 limit. */
export const MAX_LIMIT = 2 ** 31 - 1;

/** Entries fetched per native call: large enough to amortise the thread-pool hop, small enough to stream. */
export const CHUNK_ENTRIES = 1000;

export function readOptionsProblem(options: IterateOptions): string | undefined {
  const limit = options.limit;
  if (limit !== undefined && !(Number.isInteger(limit) && limit >= 0 && limit <= MAX_LIMIT)) {
    return `limit must be an integer in [0, ${MAX_LIMIT}], got ${limit}`;
  }
  return rangeProblem(options);
}

export async function* flattenChunks(chunks: AsyncIterable<readonly Entry[]>): AsyncGenerator<Entry> {
  for await (const chunk of chunks) yield* chunk;
}

export async function collectChunks(chunks: AsyncIterable<readonly Entry[]>): Promise<Entry[]> {
  const entries: Entry[] = [];
  for await (const chunk of chunks) {
    for (const entry of chunk) entries.push(entry);
  }
  return entries;
}
