import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { SeededRandom } from "#runtime";
import { SimDisk, SimulatedDiskError } from "./disk.ts";

describe("SimDisk", () => {
  test("reads its own unsynced writes before a crash", () => {
    const disk = new SimDisk<string>();
    disk.put("a", "1");
    disk.put("b", "2");
    disk.delete("b");
    assert.equal(disk.get("a"), "1");
    assert.equal(disk.has("b"), false);
    assert.deepEqual(disk.keys(), ["a"]);
  });

  test("synced writes survive a crash and unsynced ones are lost", () => {
    const disk = new SimDisk<string>();
    disk.put("kept", "old");
    disk.put("deleted later", "still here");
    assert.equal(disk.sync(), 2);
    disk.put("kept", "new");
    disk.put("lost", "x");
    disk.delete("deleted later");
    const outcome = disk.crash();
    assert.deepEqual(outcome, { keptBatches: 0, lostBatches: 3 });
    assert.equal(disk.get("kept"), "old");
    assert.equal(disk.get("lost"), undefined);
    assert.equal(disk.get("deleted later"), "still here");
    assert.deepEqual(disk.keys(), ["deleted later", "kept"]);
  });

  test("a failed sync persists nothing, and the following sync does", () => {
    const disk = new SimDisk<number>();
    disk.put("k", 1);
    disk.failSyncs(1);
    assert.throws(() => disk.sync(), SimulatedDiskError);
    assert.equal(disk.unsyncedBatchCount, 1);
    assert.equal(disk.sync(), 1);
    assert.equal(disk.syncCount, 1);
    disk.crash();
    assert.equal(disk.get("k"), 1);
  });

  test("a torn crash keeps only a prefix of the unsynced batches, each batch whole or not at all", () => {
    const random = new SeededRandom(7);
    const disk = new SimDisk<number>({ tornWriteProbability: 1, random });
    const batchCount = 20;
    const keptCounts = new Set<number>();
    for (let round = 0; round < 50; round++) {
      for (let index = 0; index < batchCount; index++) {
        disk.write([
          { kind: "put", key: `round${round}/${index}/a`, value: index },
          { kind: "put", key: `round${round}/${index}/b`, value: index },
        ]);
      }
      const outcome = disk.crash();
      const survivors = disk.keys().filter((key) => key.startsWith(`round${round}/`));
      const expected = Array.from({ length: outcome.keptBatches }, (_, index) => [
        `round${round}/${index}/a`,
        `round${round}/${index}/b`,
      ]).flat();
      assert.deepEqual(survivors.sort(), expected.sort());
      assert.equal(outcome.keptBatches + outcome.lostBatches, batchCount);
      keptCounts.add(outcome.keptBatches);
    }
    const tornSomewhereInTheMiddle = [...keptCounts].some((kept) => kept > 0 && kept < batchCount);
    assert.ok(tornSomewhereInTheMiddle, `kept counts seen: ${[...keptCounts]}`);
  });

  test("torn mode needs a seeded random", () => {
    assert.throws(() => new SimDisk({ tornWriteProbability: 0.5 }), RangeError);
  });

  test("the unsynced backlog is bounded", () => {
    const disk = new SimDisk<number>({ maxUnsyncedBatches: 2 });
    disk.put("a", 1);
    disk.put("b", 2);
    assert.throws(() => disk.put("c", 3), /sync more often/);
  });
});
