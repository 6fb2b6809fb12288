import assert from "node:assert/strict";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import fc from "fast-check";
import { openRocksDb, type RocksDb } from "./rocks-db.ts";
import { RocksDbError } from "./rocks-db-error.ts";
import type { IterateOptions } from "./rocks-reader.ts";
import { bytes, hex, modelScan, temporaryDirectory, text } from "./testing/fixtures.ts";
import { WriteBatch } from "./write-batch.ts";

const root = temporaryDirectory("rocksdb-snapshot");
let databaseCount = 0;

async function freshDatabase(): Promise<RocksDb> {
  const path = join(root, `db-${databaseCount++}`);
  const db = await openRocksDb({ path, columnFamilies: ["default", "raft"], createIfMissing: true });
  after(() => db.close());
  return db;
}

describe("Snapshot", () => {
  it("keeps reading the state of every column family as of its creation", async () => {
    const db = await freshDatabase();
    await db.write(
      new WriteBatch()
        .put("default", text("a"), text("1"))
        .put("default", text("b"), text("1"))
        .put("raft", text("s"), text("1")),
      { sync: false },
    );
    const snapshot = db.snapshot();
    after(() => snapshot.release());
    await db.write(
      new WriteBatch()
        .put("default", text("a"), text("2"))
        .delete("default", text("b"))
        .put("default", text("c"), text("2"))
        .put("raft", text("s"), text("2")),
      { sync: false },
    );

    assert.equal(hex(await snapshot.get("default", text("a"))), hex(text("1")));
    assert.equal(hex(await snapshot.get("default", text("b"))), hex(text("1")));
    assert.equal(await snapshot.get("default", text("c")), undefined);
    assert.equal(hex(await snapshot.get("raft", text("s"))), hex(text("1")));
    assert.deepEqual((await snapshot.getMany("default", [text("c"), text("a")])).map(hex), [
      undefined,
      hex(text("1")),
    ]);
    const scanned = await snapshot.scan("default", { limit: 10 });
    assert.deepEqual(
      scanned.map((entry) => hex(entry.key)),
      [hex(text("a")), hex(text("b"))],
    );

    const live = await db.scan("default", { limit: 10 });
    assert.deepEqual(
      live.map((entry) => hex(entry.value)),
      [hex(text("2")), hex(text("2"))],
    );
  });

  it("serves concurrent reads from one snapshot correctly", async () => {
    const db = await freshDatabase();
    const batch = new WriteBatch();
    for (let value = 1; value <= 200; value++) batch.put("default", bytes(value), bytes(value));
    await db.write(batch, { sync: false });
    const snapshot = db.snapshot();
    after(() => snapshot.release());
    const reads = [];
    for (let value = 1; value <= 200; value++) reads.push(snapshot.get("default", bytes(value)));
    const scans = [
      snapshot.scan("default", { gte: bytes(50), limit: 5 }),
      snapshot.scan("default", { reverse: true, limit: 3 }),
    ];
    const values = await Promise.all(reads);
    assert.deepEqual(
      values.map(hex),
      values.map((_, index) => hex(bytes(index + 1))),
    );
    const [forward, reverse] = await Promise.all(scans);
    assert.deepEqual(
      forward!.map((entry) => entry.key[0]),
      [50, 51, 52, 53, 54],
    );
    assert.deepEqual(
      reverse!.map((entry) => entry.key[0]),
      [200, 199, 198],
    );
  });

  it("streams more entries than one native fetch, in both directions", async () => {
    const db = await freshDatabase();
    const batch = new WriteBatch();
    const keyCount = 2_500;
    for (let index = 0; index < keyCount; index++)
      batch.put("raft", Buffer.from(index.toString().padStart(5, "0")), bytes(1));
    await db.write(batch, { sync: false });
    const snapshot = db.snapshot();
    after(() => snapshot.release());
    await db.write(new WriteBatch().deleteRange("raft", text("0")), { sync: false });
    let count = 0;
    let previous = "";
    for await (const entry of snapshot.iterate("raft", { reverse: true })) {
      const key = Buffer.from(entry.key).toString();
      assert.ok(previous === "" || key < previous);
      previous = key;
      count++;
    }
    assert.equal(count, keyCount);
    assert.equal(
      (await snapshot.scan("raft", { gt: text("00100"), lt: text("02000"), limit: keyCount })).length,
      1899,
    );
  });

  it("matches a model of the state at creation for random bounds, direction and limit", async () => {
    const db = await freshDatabase();
    const key = fc.uint8Array({ minLength: 1, maxLength: 3, max: 3 });
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(key, { selector: (value) => hex(value), maxLength: 30 }),
        fc.array(key, { maxLength: 10 }),
        fc.record({ lower: fc.option(key), upper: fc.option(key), inclusive: fc.boolean() }),
        fc.boolean(),
        fc.option(fc.nat(40)),
        async (keys, laterKeys, bounds, reverse, limit) => {
          await db.write(new WriteBatch().deleteRange("default", bytes(0)), { sync: false });
          const batch = new WriteBatch();
          for (const item of keys) batch.put("default", item, item);
          await db.write(batch, { sync: false });
          const snapshot = db.snapshot();
          try {
            const later = new WriteBatch().deleteRange("default", bytes(0), bytes(1));
            for (const item of laterKeys) later.put("default", item, bytes(9, 9));
            await db.write(later, { sync: false });
            const options: IterateOptions = {
              ...(bounds.lower && (bounds.inclusive ? { gte: bounds.lower } : { gt: bounds.lower })),
              ...(bounds.upper && (bounds.inclusive ? { lte: bounds.upper } : { lt: bounds.upper })),
              reverse,
              ...(limit !== null && { limit }),
            };
            const actual = await snapshot.scan("default", { ...options, limit: limit ?? 1000 });
            assert.deepEqual(
              actual.map((entry) => [hex(entry.key), hex(entry.value)]),
              modelScan(keys, options),
            );
          } finally {
            await snapshot.release();
          }
        },
      ),
      { numRuns: 150 },
    );
  });

  it("fails clearly after release and after the database closes", async () => {
    const db = await freshDatabase();
    const released = db.snapshot();
    await released.release();
    await assert.rejects(released.get("default", bytes(1)), (error) => {
      assert.ok(error instanceof RocksDbError);
      assert.match(error.message, /snapshot already released/);
      return true;
    });
    const open = db.snapshot();
    await db.close();
    await assert.rejects(open.scan("default", { limit: 1 }), RocksDbError);
  });
});
