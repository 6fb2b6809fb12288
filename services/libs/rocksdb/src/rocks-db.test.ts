import assert from "node:assert/strict";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import fc from "fast-check";
import { InvalidKeyError } from "./invalid-key-error.ts";
import { MAX_KEY_BYTES } from "./key-range.ts";
import { openRocksDb, type RocksDb } from "./rocks-db.ts";
import { RocksDbError } from "./rocks-db-error.ts";
import type { Entry, IterateOptions } from "./rocks-reader.ts";
import { bytes, hex, modelScan, temporaryDirectory, text } from "./testing/fixtures.ts";
import { WriteBatch } from "./write-batch.ts";

const root = temporaryDirectory("rocksdb");
let databaseCount = 0;

async function freshDatabase(columnFamilies = ["default", "lock", "write"]): Promise<RocksDb> {
  const db = await openRocksDb({
    path: join(root, `db-${databaseCount++}`),
    columnFamilies,
    createIfMissing: true,
  });
  after(() => db.close());
  return db;
}

const hexEntries = (entries: readonly Entry[]) => entries.map((entry) => [hex(entry.key), hex(entry.value)]);

describe("RocksDb point operations", () => {
  it("puts, gets and deletes per column family", async () => {
    const db = await freshDatabase();
    await db.put("lock", text("k"), text("lock-value"), { sync: true });
    await db.put("write", text("k"), text("write-value"), { sync: false });
    assert.equal(hex(await db.get("lock", text("k"))), hex(text("lock-value")));
    assert.equal(hex(await db.get("write", text("k"))), hex(text("write-value")));
    assert.equal(await db.get("default", text("k")), undefined);
    await db.delete("lock", text("k"), { sync: true });
    assert.equal(await db.get("lock", text("k")), undefined);
    assert.equal(hex(await db.get("write", text("k"))), hex(text("write-value")));
  });

  it("reads many keys in order, missing ones as undefined, and keeps empty values", async () => {
    const db = await freshDatabase();
    await db.write(new WriteBatch().put("default", bytes(1), bytes(10)).put("default", bytes(3), bytes()), {
      sync: false,
    });
    const values = await db.getMany("default", [bytes(3), bytes(2), bytes(1)]);
    assert.deepEqual(values.map(hex), ["", undefined, "0a"]);
  });

  it("rejects empty and oversized keys before they reach RocksDB", async () => {
    const db = await freshDatabase();
    await assert.rejects(db.put("default", bytes(), bytes(1), { sync: false }), InvalidKeyError);
    assert.throws(() => new WriteBatch().delete("lock", new Uint8Array(MAX_KEY_BYTES + 1)), InvalidKeyError);
    await db.put("default", new Uint8Array(MAX_KEY_BYTES).fill(7), bytes(1), { sync: false });
  });

  it("names the path and column family in errors", async () => {
    const db = await freshDatabase();
    await assert.rejects(db.get("nope", bytes(1)), (error: unknown) => {
      assert.ok(error instanceof RocksDbError);
      assert.equal(error.columnFamily, "nope");
      assert.equal(error.path, db.path);
      assert.match(error.message, /unknown column family/);
      return true;
    });
    const missing = join(root, "never-created");
    await assert.rejects(
      openRocksDb({ path: missing, columnFamilies: ["default"], createIfMissing: false }),
      (error) => {
        assert.ok(error instanceof RocksDbError);
        assert.match(error.message, /never-created/);
        assert.match(error.message, /does not exist/);
        return true;
      },
    );
  });

  it("refuses operations after close and closes idempotently", async () => {
    const db = await freshDatabase();
    await db.close();
    await db.close();
    assert.equal(db.isOpen, false);
    await assert.rejects(db.get("default", bytes(1)), /database is closed/);
    await assert.rejects(db.put("default", bytes(1), bytes(1), { sync: false }), /database is closed/);
  });

  it("keeps data across reopen and refuses to open with a column family left out", async () => {
    const path = join(root, "reopen");
    const first = await openRocksDb({ path, columnFamilies: ["raft", "kv"], createIfMissing: true });
    await first.put("raft", text("state"), text("persisted"), { sync: true });
    await first.close();
    await assert.rejects(
      openRocksDb({ path, columnFamilies: ["raft"], createIfMissing: false }),
      /Column families not opened: kv/,
    );
    const second = await openRocksDb({ path, columnFamilies: ["raft", "kv"], createIfMissing: false });
    after(() => second.close());
    assert.equal(hex(await second.get("raft", text("state"))), hex(text("persisted")));
  });
});

describe("RocksDb write batches", () => {
  it("applies puts and deletes across column families together", async () => {
    const db = await freshDatabase();
    await db.put("lock", text("a"), text("old-lock"), { sync: false });
    const batch = new WriteBatch()
      .delete("lock", text("a"))
      .put("write", text("a"), text("commit"))
      .put("default", text("a"), text("data"));
    assert.equal(batch.operationCount, 3);
    await db.write(batch, { sync: true });
    assert.equal(await db.get("lock", text("a")), undefined);
    assert.equal(hex(await db.get("write", text("a"))), hex(text("commit")));
    assert.equal(hex(await db.get("default", text("a"))), hex(text("data")));
  });

  it("writes nothing when any operation of the batch is invalid", async () => {
    const db = await freshDatabase();
    const batch = new WriteBatch()
      .put("lock", text("x"), text("1"))
      .put("missing-family", text("x"), text("2"));
    await assert.rejects(db.write(batch, { sync: true }), /unknown column family/);
    assert.equal(await db.get("lock", text("x")), undefined);
  });

  it("deletes a range, including keys put earlier in the batch but not later ones", async () => {
    const db = await freshDatabase();
    const setup = new WriteBatch();
    for (let value = 0; value < 10; value++) setup.put("default", bytes(value), bytes(value));
    setup.put("lock", bytes(5), bytes(5));
    await db.write(setup, { sync: false });
    const batch = new WriteBatch()
      .put("default", bytes(4, 1), bytes(41))
      .deleteRange("default", bytes(3), bytes(7))
      .put("default", bytes(5, 5), bytes(55));
    await db.write(batch, { sync: true });
    const keys = (await db.scan("default", { limit: 100 })).map((entry) => hex(entry.key));
    assert.deepEqual(keys, ["00", "01", "02", "0505", "07", "08", "09"]);
    assert.equal(hex(await db.get("lock", bytes(5))), "05", "other column families are untouched");
  });

  it("deletes an unbounded range larger than one expansion step", async () => {
    const db = await freshDatabase();
    const setup = new WriteBatch();
    const keyCount = 10_050;
    for (let index = 0; index < keyCount; index++) {
      const key = Buffer.alloc(4);
      key.writeUInt32BE(index);
      setup.put("write", key, bytes(1));
    }
    await db.write(setup, { sync: false });
    await db.write(new WriteBatch().deleteRange("write", Buffer.from([0, 0, 0, 2])), { sync: false });
    const remaining = await db.scan("write", { limit: keyCount });
    assert.deepEqual(
      remaining.map((entry) => hex(entry.key)),
      ["00000000", "00000001"],
    );
  });
});

describe("RocksDb iteration", () => {
  it("iterates in unsigned byte order within bounds, forward and reverse", async () => {
    const db = await freshDatabase();
    const batch = new WriteBatch();
    for (const key of [bytes(0x80), bytes(0x01), bytes(0x01, 0x00), bytes(0xff), bytes(0x7f)]) {
      batch.put("default", key, key);
    }
    await db.write(batch, { sync: false });
    const keysOf = async (options: IterateOptions) => {
      const keys: Array<string | undefined> = [];
      for await (const entry of db.iterate("default", options)) keys.push(hex(entry.key));
      return keys;
    };
    assert.deepEqual(await keysOf({}), ["01", "0100", "7f", "80", "ff"]);
    assert.deepEqual(await keysOf({ gt: bytes(0x01), lte: bytes(0x80) }), ["0100", "7f", "80"]);
    assert.deepEqual(await keysOf({ gte: bytes(0x01), lt: bytes(0x80), reverse: true }), [
      "7f",
      "0100",
      "01",
    ]);
    assert.deepEqual(await keysOf({ reverse: true, limit: 2 }), ["ff", "80"]);
    assert.deepEqual(await keysOf({ limit: 0 }), []);
  });

  it("releases the native iterator when the loop exits early", async () => {
    const db = await freshDatabase();
    await db.write(new WriteBatch().put("lock", bytes(1), bytes(1)).put("lock", bytes(2), bytes(2)), {
      sync: false,
    });
    for await (const entry of db.iterate("lock")) {
      assert.equal(hex(entry.key), "01");
      break;
    }
    await db.close();
  });

  it("rejects contradictory bounds and bad limits", async () => {
    const db = await freshDatabase();
    await assert.rejects(db.scan("default", { limit: -1 }), /limit must be an integer/);
    await assert.rejects(db.scan("default", { limit: 10, gt: bytes(1), gte: bytes(1) }), /both gt and gte/);
  });

  it("matches a sorted model for random keys, bounds, direction and limit", async () => {
    const db = await freshDatabase(["default"]);
    const key = fc.uint8Array({ minLength: 1, maxLength: 4, max: 3 });
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(key, { selector: (value) => hex(value), maxLength: 40 }),
        fc.record({ lower: fc.option(key), upper: fc.option(key), inclusive: fc.boolean() }),
        fc.boolean(),
        fc.option(fc.nat(50)),
        async (keys, bounds, reverse, limit) => {
          await db.write(new WriteBatch().deleteRange("default", bytes(0)), { sync: false });
          const batch = new WriteBatch();
          for (const item of keys) batch.put("default", item, item);
          await db.write(batch, { sync: false });
          const options: IterateOptions = {
            ...(bounds.lower && (bounds.inclusive ? { gte: bounds.lower } : { gt: bounds.lower })),
            ...(bounds.upper && (bounds.inclusive ? { lte: bounds.upper } : { lt: bounds.upper })),
            reverse,
            ...(limit !== null && { limit }),
          };
          const expected = modelScan(keys, options);
          const actual = await db.scan("default", { ...options, limit: limit ?? 1000 });
          assert.deepEqual(hexEntries(actual), expected);
        },
      ),
      { numRuns: 150 },
    );
  });
});
