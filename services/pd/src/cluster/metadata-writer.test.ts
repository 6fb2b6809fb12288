import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { KeyValue, MetaStorage } from "../storage/index.ts";
import { MAX_BATCH_OPERATIONS } from "../storage/index.ts";
import { MetadataWriter } from "./metadata-writer.ts";

/** Records every batch and lets the test decide when each write completes. */
class RecordingStorage implements MetaStorage {
  readonly data = new Map<string, string>();
  readonly batches: Array<{ puts: string[]; deletes: string[] }> = [];
  failNext: Error | undefined;

  async load(): Promise<Uint8Array | undefined> {
    return undefined;
  }
  async loadRange(): Promise<KeyValue[]> {
    return [];
  }
  async save(key: string, value: Uint8Array): Promise<void> {
    await this.saveBatch([{ key, value }]);
  }
  async saveBatch(puts: readonly KeyValue[], deletes: readonly string[] = []): Promise<void> {
    assert.ok(puts.length + deletes.length <= MAX_BATCH_OPERATIONS);
    await new Promise((resolve) => setImmediate(resolve));
    const failure = this.failNext;
    this.failNext = undefined;
    if (failure !== undefined) throw failure;
    this.batches.push({ puts: puts.map((put) => put.key), deletes: [...deletes] });
    for (const put of puts) this.data.set(put.key, new TextDecoder().decode(put.value));
    for (const key of deletes) this.data.delete(key);
  }
  async remove(key: string): Promise<void> {
    await this.saveBatch([], [key]);
  }
}

const text = (value: string): Uint8Array => new TextEncoder().encode(value);

describe("MetadataWriter", () => {
  it("coalesces queued writes to one key so the newest value lands last", async () => {
    const storage = new RecordingStorage();
    const writer = new MetadataWriter(storage);
    await Promise.all([writer.put("a", text("1")), writer.put("a", text("2")), writer.put("a", text("3"))]);
    assert.equal(storage.data.get("a"), "3");
    // The first write went out alone; the two queued behind it became one.
    assert.deepEqual(
      storage.batches.map((batch) => batch.puts),
      [["a"], ["a"]],
    );
  });

  it("splits a burst into batches within the transaction limit", async () => {
    const storage = new RecordingStorage();
    const writer = new MetadataWriter(storage);
    const keys = Array.from({ length: 3 * MAX_BATCH_OPERATIONS }, (_, index) => `region/${index}`);
    await Promise.all(keys.map((key) => writer.put(key, text(key))));
    assert.equal(storage.data.size, keys.length);
    assert.ok(storage.batches.length >= 3);
  });

  it("reports a failed write to exactly the callers in that batch", async () => {
    const storage = new RecordingStorage();
    const writer = new MetadataWriter(storage);
    storage.failNext = new Error("disk full");
    const first = writer.put("a", text("1"));
    const second = writer.delete("b");
    await assert.rejects(first, /disk full/);
    await second;
    assert.equal(storage.data.has("a"), false);
  });
});
