import type { NativeIterator } from "./native-binding.ts";

/**
 * One native iterator, never moved by two readers at once: a read is "seek, then fetch", and another
 * seek in between would move the position under the first reader. Reads queue behind each other.
 */
export class PinnedCursor {
  private tail: Promise<unknown> = Promise.resolve();

  constructor(private readonly iterator: NativeIterator) {}

  /** Seeks to `target` and fetches up to `count` entries from there, as one uninterrupted step. */
  read(target: Buffer, count: number): Promise<Array<[Buffer, Buffer]>> {
    const result = this.tail.then(() => {
      this.iterator.seek(target);
      return this.iterator.nextv(count);
    });
    // A failed read reaches its reader through `result`; the queue only waits for it to settle, so one
    // failure does not poison the reads queued behind it.
    this.tail = result.catch(() => undefined);
    return result;
  }

  /** Closes after the queued reads finish. */
  async close(): Promise<void> {
    await this.tail;
    await this.iterator.close();
  }
}
