/**
 * Writes cluster metadata to MetaStorage in the order it changed, coalescing bursts: while one batch is
 * being written, later changes queue up (a newer value for the same key replaces the queued one) and go
 * out together in the next batch. One writer per leader term means a slow write can never land after a
 * newer one for the same region.
 */
import { MAX_BATCH_OPERATIONS, type MetaStorage } from "../storage/index.ts";

interface PendingWrite {
  /** undefined deletes the key. */
  value: Uint8Array | undefined;
  readonly waiters: Array<{ resolve: () => void; reject: (error: unknown) => void }>;
}

export class MetadataWriter {
  private readonly pending = new Map<string, PendingWrite>();
  private flushing = false;

  constructor(private readonly storage: MetaStorage) {}

  put(key: string, value: Uint8Array): Promise<void> {
    return this.enqueue(key, value);
  }

  delete(key: string): Promise<void> {
    return this.enqueue(key, undefined);
  }

  private enqueue(key: string, value: Uint8Array | undefined): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const existing = this.pending.get(key);
      if (existing === undefined) this.pending.set(key, { value, waiters: [{ resolve, reject }] });
      else {
        existing.value = value;
        existing.waiters.push({ resolve, reject });
      }
      // The flush answers every waiter with its batch's outcome and never rejects itself.
      if (!this.flushing) void this.flush();
    });
  }

  private async flush(): Promise<void> {
    this.flushing = true;
    try {
      while (this.pending.size > 0) {
        const batch = [...this.pending].slice(0, MAX_BATCH_OPERATIONS);
        for (const [key] of batch) this.pending.delete(key);
        await this.write(batch);
      }
    } finally {
      this.flushing = false;
    }
  }

  private async write(batch: ReadonlyArray<readonly [string, PendingWrite]>): Promise<void> {
    const puts: Array<{ key: string; value: Uint8Array }> = [];
    const deletes: string[] = [];
    for (const [key, write] of batch) {
      if (write.value === undefined) deletes.push(key);
      else puts.push({ key, value: write.value });
    }
    try {
      await this.storage.saveBatch(puts, deletes);
      for (const [, write] of batch) for (const waiter of write.waiters) waiter.resolve();
    } catch (error) {
      for (const [, write] of batch) for (const waiter of write.waiters) waiter.reject(error);
    }
  }
}
