import assert from "node:assert/strict";
import { test } from "node:test";
import { FIRST_REGION_ID, TestCluster } from "../testing/raftstore-cluster.ts";

test("three stores elect a leader, replicate writes and serve linearizable reads", async () => {
  const cluster = await TestCluster.start({ storeCount: 3 });
  try {
    await cluster.waitForLeader(FIRST_REGION_ID);
    for (let index = 0; index < 20; index++) await cluster.put(`key-${index}`, `value-${index}`);
    for (let index = 0; index < 20; index++)
      assert.equal(await cluster.get(`key-${index}`), `value-${index}`);
    await cluster.delete("key-3");
    assert.equal(await cluster.get("key-3"), undefined);
    for (const storeId of cluster.storeIds) {
      await cluster.waitFor(`store ${storeId} to apply every write`, async () => {
        return (await cluster.localGet(storeId, "key-19")) === "value-19";
      });
      assert.equal(await cluster.localGet(storeId, "key-3"), undefined);
    }
  } finally {
    await cluster.close();
  }
});

test("a restart from disk keeps every acknowledged write, on every store", async () => {
  const cluster = await TestCluster.start({ storeCount: 3 });
  try {
    for (let index = 0; index < 30; index++) await cluster.put(`k${index}`, `v${index}`);
    for (const storeId of cluster.storeIds) await cluster.stopStore(storeId);
    for (const storeId of cluster.storeIds) await cluster.startStore(storeId);
    for (let index = 0; index < 30; index++) assert.equal(await cluster.get(`k${index}`), `v${index}`);
    await cluster.put("after-restart", "yes");
    assert.equal(await cluster.get("after-restart"), "yes");
  } finally {
    await cluster.close();
  }
});

test("a store restarted alone catches up with the writes it missed", async () => {
  const cluster = await TestCluster.start({ storeCount: 3 });
  try {
    await cluster.put("before", "1");
    await cluster.stopStore(3n);
    for (let index = 0; index < 10; index++) await cluster.put(`missed-${index}`, `${index}`);
    await cluster.startStore(3n);
    await cluster.waitFor(
      "store 3 to catch up",
      async () => (await cluster.localGet(3n, "missed-9")) === "9",
    );
    assert.equal(await cluster.localGet(3n, "before"), "1");
  } finally {
    await cluster.close();
  }
});

async function counter(cluster: TestCluster, storeId: bigint, name: string): Promise<number> {
  const metric = cluster.metrics(storeId).getSingleMetric(`s${storeId}_raftstore_${name}`);
  const values = (await metric?.get())?.values ?? [];
  return values.reduce((sum, sample) => sum + sample.value, 0);
}

test("concurrent writes to many regions share fsyncs (group commit)", async () => {
  const cluster = await TestCluster.start({ storeCount: 3 });
  try {
    for (const key of ["f", "m", "t"]) await cluster.split(key);
    for (const key of ["a", "g", "n", "u"]) await cluster.put(key, "warm");
    for (const key of ["a", "g", "n", "u"])
      await cluster.transferLeader(cluster.regionFor(new TextEncoder().encode(key))!.id, 1n);
    const fsyncsBefore = await counter(cluster, 1n, "fsync_total");
    const writes = ["a", "g", "n", "u"].flatMap((prefix) =>
      Array.from({ length: 25 }, (_, index) => `${prefix}-${index}`),
    );
    await Promise.all(writes.map((key) => cluster.put(key, "v")));
    const fsyncs = (await counter(cluster, 1n, "fsync_total")) - fsyncsBefore;
    assert.ok(
      fsyncs > 0 && fsyncs < writes.length / 4,
      `${writes.length} writes took ${fsyncs} fsyncs on the leader`,
    );
    for (const key of writes) assert.equal(await cluster.get(key), "v");
  } finally {
    await cluster.close();
  }
});
