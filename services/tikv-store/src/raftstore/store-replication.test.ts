import assert from "node:assert/strict";
import { test } from "node:test";
import { bytes } from "../testing/bytes.ts";
import { StoreCluster } from "../testing/cluster/store-cluster.ts";

test("three stores elect a leader, replicate writes and serve linearizable reads", async () => {
  const cluster = await StoreCluster.start({ label: "replication", stores: 3 });
  try {
    await cluster.waitLeaderOfRegion(cluster.firstRegionId);
    for (let index = 0; index < 20; index++) await cluster.put(`key-${index}`, `value-${index}`);
    for (let index = 0; index < 20; index++)
      assert.equal(await cluster.get(`key-${index}`), `value-${index}`);
    await cluster.delete("key-3");
    assert.equal(await cluster.get("key-3"), undefined);
    for (const index of cluster.indexes) {
      await cluster.waitFor(`store ${index} to apply every write`, async () => {
        return (await cluster.localGet(index, "key-19")) === "value-19";
      });
      assert.equal(await cluster.localGet(index, "key-3"), undefined);
    }
  } finally {
    await cluster.close();
  }
});

test("a restart from disk keeps every acknowledged write, on every store", async () => {
  const cluster = await StoreCluster.start({ label: "restart from disk", stores: 3 });
  try {
    for (let index = 0; index < 30; index++) await cluster.put(`k${index}`, `v${index}`);
    for (const index of cluster.indexes) await cluster.stop(index);
    for (const index of cluster.indexes) await cluster.restart(index);
    for (let index = 0; index < 30; index++) assert.equal(await cluster.get(`k${index}`), `v${index}`);
    await cluster.put("after-restart", "yes");
    assert.equal(await cluster.get("after-restart"), "yes");
  } finally {
    await cluster.close();
  }
});

test("a store restarted alone catches up with the writes it missed", async () => {
  const cluster = await StoreCluster.start({ label: "catch up after restart", stores: 3 });
  try {
    await cluster.put("before", "1");
    await cluster.stop(2);
    for (let index = 0; index < 10; index++) await cluster.put(`missed-${index}`, `${index}`);
    await cluster.restart(2);
    await cluster.waitFor("store 2 to catch up", async () => (await cluster.localGet(2, "missed-9")) === "9");
    assert.equal(await cluster.localGet(2, "before"), "1");
  } finally {
    await cluster.close();
  }
});

test("concurrent writes to many regions share fsyncs (group commit)", async () => {
  const cluster = await StoreCluster.start({ label: "group commit", stores: 3 });
  try {
    for (const key of ["f", "m", "t"]) await cluster.split(bytes(key));
    for (const key of ["a", "g", "n", "u"]) await cluster.put(key, "warm");
    for (const key of ["a", "g", "n", "u"])
      await cluster.transferLeader(cluster.regionFor(bytes(key))!.id, 0);
    const fsyncsBefore = await cluster.counter(0, "store_raftstore_fsync_total");
    const writes = ["a", "g", "n", "u"].flatMap((prefix) =>
      Array.from({ length: 25 }, (_, index) => `${prefix}-${index}`),
    );
    await Promise.all(writes.map((key) => cluster.put(key, "v")));
    const fsyncs = (await cluster.counter(0, "store_raftstore_fsync_total")) - fsyncsBefore;
    assert.ok(
      fsyncs > 0 && fsyncs < writes.length / 4,
      `${writes.length} writes took ${fsyncs} fsyncs on the leader`,
    );
    for (const key of writes) assert.equal(await cluster.get(key), "v");
  } finally {
    await cluster.close();
  }
});
