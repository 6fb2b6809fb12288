import { InvalidKeyError } from "./invalid-key-error.ts";
import { keyProblem } from "./key-range.ts";

export type BatchOperation =
  | {
      readonly kind: "put";
      readonly columnFamily: string;
      readonly key: Uint8Array;
      readonly value: Uint8Array;
    }
  | { readonly kind: "delete"; readonly columnFamily: string; readonly key: Uint8Array }
  | {
      readonly kind: "delete-range";
      readonly columnFamily: string;
      readonly start: Uint8Array;
      /** Exclusive; undefined means "to the end of the column family". */
      readonly end: Uint8Array | undefined;
    };

const MAX_KEY_HEX_CHARS = 64;

/**
 * Writes collected across column families and applied atomically, in order, by `RocksDb.write`.
 * The batch holds references to the given arrays: do not modify them until the batch is written.
 */
export class WriteBatch {
  private readonly pending: BatchOperation[] = [];
  private sizeBytes = 0;

  put(columnFamily: string, key: Uint8Array, value: Uint8Array): this {
    checkKey(columnFamily, key);
    this.pending.push({ kind: "put", columnFamily, key, value });
    this.sizeBytes += key.length + value.length;
    return this;
  }

  delete(columnFamily: string, key: Uint8Array): this {
    checkKey(columnFamily, key);
    this.pending.push({ kind: "delete", columnFamily, key });
    this.sizeBytes += key.length;
    return this;
  }

  /**
   * Deletes every key in [start, end) as of the moment the batch is written, including keys put earlier
   * in this batch. The binding has no native range tombstone inside a batch, so the write expands this
   * into point deletes (cost grows with the number of keys in the range).
   */
  deleteRange(columnFamily: string, start: Uint8Array, end?: Uint8Array): this {
    this.pending.push({ kind: "delete-range", columnFamily, start, end });
    this.sizeBytes += start.length + (end?.length ?? 0);
    return this;
  }

  get operations(): readonly BatchOperation[] {
    return this.pending;
  }

  get operationCount(): number {
    return this.pending.length;
  }

  /** Keys and values added so far (range deletes count only their bounds). */
  get approximateSizeBytes(): number {
    return this.sizeBytes;
  }

  clear(): void {
    this.pending.length = 0;
    this.sizeBytes = 0;
  }
}

function checkKey(columnFamily: string, key: Uint8Array): void {
  const problem = keyProblem(key);
  if (problem === undefined) return;
  const hex = Buffer.from(key.subarray(0, MAX_KEY_HEX_CHARS / 2)).toString("hex");
  throw new InvalidKeyError(columnFamily, key.length > MAX_KEY_HEX_CHARS / 2 ? `${hex}…` : hex, problem);
}
