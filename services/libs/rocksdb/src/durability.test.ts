import assert from "node:assert/strict";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { openRocksDb } from "./rocks-db.ts";
import { temporaryDirectory } from "./testing/fixtures.ts";
import { runWriterUntilKilled } from "./testing/kill-test-harness.ts";
import { WriteBatch } from "./write-batch.ts";

const root = temporaryDirectory("rocksdb-durability");
const ACKNOWLEDGEMENTS_BEFORE_KILL = 30;

describe("RocksDb durability", () => {
  it("keeps every acknowledged synced batch, whole, after the writer is killed with SIGKILL", async () => {
    const path = join(root, "killed-writer");
    const highest = await runWriterUntilKilled({
      writer: new URL("./testing/sync-writer-process.ts", import.meta.url),
      directory: path,
      acknowledgementsBeforeKill: ACKNOWLEDGEMENTS_BEFORE_KILL,
    });
    const db = await openRocksDb({ path, columnFamilies: ["raft", "kv"], createIfMissing: false });
    after(() => db.close());
    const raft = await db.scan("raft", { limit: 200_000 });
    const kv = await db.scan("kv", { limit: 200_000 });
    assert.ok(raft.length >= highest + 1, `acknowledged ${highest + 1} batches, found ${raft.length}`);
    // Atomic batches: both families hold exactly the same sequences, with no gaps.
    assert.equal(kv.length, raft.length);
    raft.forEach((entry, index) => {
      assert.equal(Buffer.from(entry.key).readUInt32BE(), index);
      assert.equal(Buffer.from(kv[index]!.key).readUInt32BE(), index);
    });
  });

  it("measures synced write batches per second (reported, not asserted)", async (context) => {
    const db = await openRocksDb({
      path: join(root, "measure"),
      columnFamilies: ["raft"],
      createIfMissing: true,
    });
    after(() => db.close());
    const value = Buffer.alloc(128, 1);
    for (const sync of [true, false]) {
      const batches = 300;
      const startedMs = performance.now();
      for (let sequence = 0; sequence < batches; sequence++) {
        const batch = new WriteBatch();
        for (let entry = 0; entry < 4; entry++)
          batch.put("raft", Buffer.from(`${sync}-${sequence}-${entry}`), value);
        await db.write(batch, { sync });
      }
      const perSecond = Math.round((batches * 1000) / (performance.now() - startedMs));
      context.diagnostic(`${sync ? "synced" : "unsynced"} 4-entry batches: ${perSecond}/s`);
    }
  });
});
