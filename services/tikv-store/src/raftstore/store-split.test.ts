import assert from "node:assert/strict";
import { test } from "node:test";
import { bytes } from "../testing/bytes.ts";
import { StoreCluster } from "../testing/cluster/store-cluster.ts";
import { dropRandomly } from "../testing/transport-filters.ts";
import { EpochNotMatchError, KeyNotInRegionError, NotLeaderError } from "./region-errors.ts";
import { epochOf } from "./region-meta.ts";
import { InvalidSplitError } from "./split-checker.ts";

const letters = "abcdefghijklmnopqrstuvwxyz".split("");

test("an explicit split leaves two regions that both serve, and stale epochs learn both", async () => {
  const cluster = await StoreCluster.start({ label: "explicit split", stores: 3 });
  try {
    const regionId = cluster.firstRegionId;
    for (const letter of letters) await cluster.put(letter, `value-${letter}`);
    const before = cluster.routeRegion(regionId);
    const [left, right] = await cluster.split(bytes("m"));
    assert.equal(left.id, regionId);
    assert.deepEqual(Buffer.from(left.endKey).toString(), "m");
    assert.deepEqual(Buffer.from(right.startKey).toString(), "m");
    assert.equal(epochOf(left).version, epochOf(before.region).version + 1n);
    assert.equal(epochOf(right).version, epochOf(left).version);
    await cluster.waitLeaderOfRegion(right.id);
    for (const letter of letters) assert.equal(await cluster.get(letter), `value-${letter}`);
    await cluster.put("b", "left-after-split");
    await cluster.put("x", "right-after-split");
    assert.equal(await cluster.get("b"), "left-after-split");
    assert.equal(await cluster.get("x"), "right-after-split");

    // Whichever store leads now (a busy machine may move leadership), the stale epoch is what it refuses.
    const staleWrite = () =>
      cluster.retry("a write with the stale epoch", async () => {
        const route = cluster.routeRegion(regionId);
        const stale = { ...route.context, regionEpoch: before.region.regionEpoch };
        try {
          await route.store.write(stale, [{ type: "put", key: bytes("c"), value: bytes("stale") }]);
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
        assert.deepEqual(ids, [regionId, right.id].sort());
        return true;
      },
    );
    const current = cluster.routeRegion(regionId);
    await assert.rejects(
      current.store.write(current.context, [{ type: "put", key: bytes("x"), value: bytes("wrong region") }]),
      KeyNotInRegionError,
    );
    assert.equal(cluster.fakePd.splitReports.length, 1);
    for (const index of cluster.indexes) {
      await cluster.waitFor(
        `store ${index} to hold the new region`,
        () => cluster.store(index).region(right.id) !== undefined,
      );
    }
  } finally {
    await cluster.close();
  }
});

test("a split survives a restart of every store", async () => {
  const cluster = await StoreCluster.start({ label: "split restart", stores: 3 });
  try {
    for (const letter of letters) await cluster.put(letter, letter.toUpperCase());
    const [, right] = await cluster.split(bytes("h"));
    await cluster.waitLeaderOfRegion(right.id);
    for (const index of cluster.indexes) await cluster.stop(index);
    for (const index of cluster.indexes) await cluster.restart(index);
    for (const letter of letters) assert.equal(await cluster.get(letter), letter.toUpperCase());
    assert.equal(cluster.regionFor(bytes("z"))?.id, right.id);
  } finally {
    await cluster.close();
  }
});

test("the split checker splits a region that outgrows the key threshold", async () => {
  const cluster = await StoreCluster.start({
    label: "split checker",
    stores: 3,
    raftstore: { regionSplitKeys: 20, regionSplitSizeBytes: 1 << 20, regionMaxSizeBytes: 2 << 20 },
  });
  try {
    for (let index = 0; index < 50; index++) await cluster.put(`key-${String(index).padStart(3, "0")}`, "v");
    await cluster.waitFor("the region to split", () => cluster.fakePd.splitReports.length > 0);
    for (let index = 0; index < 50; index++) {
      assert.equal(await cluster.get(`key-${String(index).padStart(3, "0")}`), "v");
    }
    assert.notEqual(cluster.regionFor(bytes("key-000"))?.id, cluster.regionFor(bytes("key-049"))?.id);
  } finally {
    await cluster.close();
  }
});

test("both halves of a split keep serving while their leaders move", async () => {
  const cluster = await StoreCluster.start({ label: "split leaders move", stores: 3 });
  try {
    for (const letter of letters) await cluster.put(letter, "1");
    const [, right] = await cluster.split(bytes("k"));
    await cluster.waitLeaderOfRegion(right.id);
    await cluster.transferLeader(cluster.firstRegionId, 1);
    await cluster.transferLeader(right.id, 2);
    for (const letter of letters) await cluster.put(letter, "2");
    await cluster.transferLeader(cluster.firstRegionId, 2);
    await cluster.transferLeader(right.id, 0);
    for (const letter of letters) assert.equal(await cluster.get(letter), "2");
  } finally {
    await cluster.close();
  }
});

test("a split under message loss completes on every store", async () => {
  const cluster = await StoreCluster.start({ label: "split under message loss", stores: 3, seed: 3 });
  try {
    for (const letter of letters) await cluster.put(letter, "before");
    const stop = cluster.addFilter(dropRandomly(0.2, cluster.random.fork()));
    const [, right] = await cluster.split(bytes("f"));
    for (const letter of letters) await cluster.put(letter, "after");
    stop();
    for (const index of cluster.indexes) {
      await cluster.waitFor(`store ${index} to hold both regions`, () => {
        const store = cluster.store(index);
        return (
          store.region(right.id) !== undefined && store.region(cluster.firstRegionId)?.endKey.length === 1
        );
      });
      await cluster.waitFor(
        `store ${index} to apply the last writes`,
        async () => (await cluster.localGet(index, "z")) === "after",
      );
    }
  } finally {
    await cluster.close();
  }
});

test("a split without keys splits at the middle of the region's data", async () => {
  const cluster = await StoreCluster.start({ label: "half split", stores: 3 });
  try {
    const regionId = cluster.firstRegionId;
    await cluster.put("only", "one key");
    await assert.rejects(
      cluster.retry("half split of one key", async () =>
        cluster.routeRegion(regionId).store.splitRegion(regionId, []),
      ),
      InvalidSplitError,
      "one key cannot split",
    );
    // Twenty equal-sized keys: the middle by size is the eleventh key in order.
    const keys = Array.from({ length: 20 }, (_, index) => `key-${String(index).padStart(2, "0")}`);
    await cluster.delete("only");
    for (const key of keys) await cluster.put(key, "v".repeat(50));
    const regions = await cluster.retry("half split", async () =>
      cluster.routeRegion(regionId).store.splitRegion(regionId, []),
    );
    assert.equal(regions.length, 2);
    assert.equal(Buffer.from(regions[0]!.endKey).toString(), "key-10");
    assert.equal(Buffer.from(regions[1]!.startKey).toString(), "key-10");
    await cluster.waitLeaderOfRegion(regions[1]!.id);
    for (const key of keys) assert.equal(await cluster.get(key), "v".repeat(50));
  } finally {
    await cluster.close();
  }
});
