import assert from "node:assert/strict";
import { test } from "node:test";
import { FIRST_REGION_ID, TestCluster, text } from "../testing/raftstore-cluster.ts";
import { EpochNotMatchError, KeyNotInRegionError, NotLeaderError } from "./region-errors.ts";
import { epochOf } from "./region-meta.ts";
import { InvalidSplitError } from "./split-checker.ts";

const letters = "abcdefghijklmnopqrstuvwxyz".split("");

test("an explicit split leaves two regions that both serve, and stale epochs learn both", async () => {
  const cluster = await TestCluster.start({ storeCount: 3 });
  try {
    for (const letter of letters) await cluster.put(letter, `value-${letter}`);
    const before = cluster.routeRegion(FIRST_REGION_ID);
    const regions = await cluster.split("m");
    assert.equal(regions.length, 2);
    const [left, right] = regions as [(typeof regions)[0], (typeof regions)[0]];
    assert.equal(left.id, FIRST_REGION_ID);
    assert.deepEqual(Buffer.from(left.endKey).toString(), "m");
    assert.deepEqual(Buffer.from(right.startKey).toString(), "m");
    assert.equal(epochOf(left).version, epochOf(before.region).version + 1n);
    assert.equal(epochOf(right).version, epochOf(left).version);
    await cluster.waitForLeader(right.id);
    for (const letter of letters) assert.equal(await cluster.get(letter), `value-${letter}`);
    await cluster.put("b", "left-after-split");
    await cluster.put("x", "right-after-split");
    assert.equal(await cluster.get("b"), "left-after-split");
    assert.equal(await cluster.get("x"), "right-after-split");

    // Whichever store leads now (a busy machine may move leadership), the stale epoch is what it refuses.
    const staleWrite = () =>
      cluster.retry("a write with the stale epoch", async () => {
        const route = cluster.routeRegion(FIRST_REGION_ID);
        const stale = { ...route.context, regionEpoch: before.region.regionEpoch };
        try {
          await route.store.write(stale, [{ type: "put", key: text("c"), value: text("stale") }]);
        } catch (error) {
          if (error instanceof NotLeaderError) throw error;
          return error;
        }
        return undefined;
      });
    await assert.rejects(
      staleWrite().then((error) => {
        throw error ?? new Error("the stale write succeeded");
      }),
      (error: unknown) => {
        assert.ok(error instanceof EpochNotMatchError);
        const ids = error.currentRegions.map((region) => region.id).sort();
        assert.deepEqual(ids, [FIRST_REGION_ID, right.id].sort());
        return true;
      },
    );
    const current = cluster.routeRegion(FIRST_REGION_ID);
    await assert.rejects(
      current.store.write(current.context, [{ type: "put", key: text("x"), value: text("wrong region") }]),
      KeyNotInRegionError,
    );
    assert.equal(cluster.pd.splitReports.length, 1);
    for (const storeId of cluster.storeIds) {
      await cluster.waitFor(
        `store ${storeId} to hold the new region`,
        () => cluster.store(storeId).region(right.id) !== undefined,
      );
    }
  } finally {
    await cluster.close();
  }
});

test("a split survives a restart of every store", async () => {
  const cluster = await TestCluster.start({ storeCount: 3 });
  try {
    for (const letter of letters) await cluster.put(letter, letter.toUpperCase());
    const [, right] = await cluster.split("h");
    await cluster.waitForLeader(right!.id);
    for (const storeId of cluster.storeIds) await cluster.stopStore(storeId);
    for (const storeId of cluster.storeIds) await cluster.startStore(storeId);
    for (const letter of letters) assert.equal(await cluster.get(letter), letter.toUpperCase());
    assert.equal(cluster.regionFor(text("z"))?.id, right!.id);
  } finally {
    await cluster.close();
  }
});

test("the split checker splits a region that outgrows the key threshold", async () => {
  const cluster = await TestCluster.start({
    storeCount: 3,
    config: { regionSplitKeys: 20, regionSplitSizeBytes: 1 << 20, regionMaxSizeBytes: 2 << 20 },
  });
  try {
    for (let index = 0; index < 50; index++) await cluster.put(`key-${String(index).padStart(3, "0")}`, "v");
    await cluster.waitFor("the region to split", () => cluster.pd.splitReports.length > 0);
    for (let index = 0; index < 50; index++) {
      assert.equal(await cluster.get(`key-${String(index).padStart(3, "0")}`), "v");
    }
    assert.notEqual(cluster.regionFor(text("key-000"))?.id, cluster.regionFor(text("key-049"))?.id);
  } finally {
    await cluster.close();
  }
});

test("both halves of a split keep serving while their leaders move", async () => {
  const cluster = await TestCluster.start({ storeCount: 3 });
  try {
    for (const letter of letters) await cluster.put(letter, "1");
    const [, right] = await cluster.split("k");
    await cluster.waitForLeader(right!.id);
    await cluster.transferLeader(FIRST_REGION_ID, 2n);
    await cluster.transferLeader(right!.id, 3n);
    for (const letter of letters) await cluster.put(letter, "2");
    await cluster.transferLeader(FIRST_REGION_ID, 3n);
    await cluster.transferLeader(right!.id, 1n);
    for (const letter of letters) assert.equal(await cluster.get(letter), "2");
  } finally {
    await cluster.close();
  }
});

test("a split under message loss completes on every store", async () => {
  const cluster = await TestCluster.start({ storeCount: 3, seed: 3 });
  try {
    for (const letter of letters) await cluster.put(letter, "before");
    const stop = cluster.hub.dropRandomly(0.2);
    const [, right] = await cluster.split("f");
    for (const letter of letters) await cluster.put(letter, "after");
    stop();
    for (const storeId of cluster.storeIds) {
      await cluster.waitFor(`store ${storeId} to hold both regions`, () => {
        const store = cluster.store(storeId);
        return store.region(right!.id) !== undefined && store.region(FIRST_REGION_ID)?.endKey.length === 1;
      });
      await cluster.waitFor(
        `store ${storeId} to apply the last writes`,
        async () => (await cluster.localGet(storeId, "z")) === "after",
      );
    }
  } finally {
    await cluster.close();
  }
});

test("a split without keys splits at the middle of the region's data", async () => {
  const cluster = await TestCluster.start({ storeCount: 3 });
  try {
    await cluster.put("only", "one key");
    await assert.rejects(
      cluster.retry("half split of one key", async () =>
        cluster.routeRegion(FIRST_REGION_ID).store.splitRegion(FIRST_REGION_ID, []),
      ),
      InvalidSplitError,
      "one key cannot split",
    );
    // Twenty equal-sized keys: the middle by size is the eleventh key in order.
    const keys = Array.from({ length: 20 }, (_, index) => `key-${String(index).padStart(2, "0")}`);
    await cluster.delete("only");
    for (const key of keys) await cluster.put(key, "v".repeat(50));
    const regions = await cluster.retry("half split", async () =>
      cluster.routeRegion(FIRST_REGION_ID).store.splitRegion(FIRST_REGION_ID, []),
    );
    assert.equal(regions.length, 2);
    assert.equal(Buffer.from(regions[0]!.endKey).toString(), "key-10");
    assert.equal(Buffer.from(regions[1]!.startKey).toString(), "key-10");
    await cluster.waitForLeader(regions[1]!.id);
    for (const key of keys) assert.equal(await cluster.get(key), "v".repeat(50));
  } finally {
    await cluster.close();
  }
});
