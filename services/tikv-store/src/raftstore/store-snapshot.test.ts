import assert from "node:assert/strict";
import { test } from "node:test";
import { eraftpb } from "#proto";
import { FIRST_REGION_ID, TestCluster } from "./testing/test-cluster.ts";

const LOG_GC = { raftLogGcThreshold: 5, raftLogGcCountLimit: 20, raftLogGcTickMs: 50 };

test("a follower that fell behind the leader's log GC catches up by snapshot", async () => {
  const cluster = await TestCluster.start({ storeCount: 3, config: LOG_GC });
  let snapshotsSent = 0;
  cluster.hub.addFilter((message) => {
    if (message.message?.msgType === eraftpb.MessageType.SNAPSHOT) snapshotsSent++;
    return false;
  });
  try {
    await cluster.put("first", "1");
    await cluster.transferLeader(FIRST_REGION_ID, 1n);
    await cluster.stopStore(3n);
    for (let index = 0; index < 60; index++) await cluster.put(`while-down-${index}`, `${index}`);
    const leader = cluster.store(1n);
    await cluster.waitFor("the leader's log to be truncated", async () => {
      const first = await leader.engines.raftLogStore.firstStoredIndex(FIRST_REGION_ID);
      return first !== undefined && first > 30;
    });
    await cluster.startStore(3n);
    await cluster.waitFor(
      "store 3 to catch up",
      async () => (await cluster.localGet(3n, "while-down-59")) === "59",
    );
    assert.ok(snapshotsSent > 0, "the follower was sent a snapshot");
    assert.equal(await cluster.localGet(3n, "first"), "1");
    for (let index = 0; index < 60; index += 7) {
      assert.equal(await cluster.localGet(3n, `while-down-${index}`), `${index}`);
    }
    await cluster.put("after", "snapshot");
    await cluster.waitFor(
      "store 3 to follow the log again",
      async () => (await cluster.localGet(3n, "after")) === "snapshot",
    );
    // The snapshot's state survives a restart of the follower that installed it.
    await cluster.restartStore(3n);
    assert.equal(await cluster.localGet(3n, "while-down-42"), "42");
  } finally {
    await cluster.close();
  }
});

test("log GC keeps every replica's data and survives restarts", async () => {
  const cluster = await TestCluster.start({ storeCount: 3, config: LOG_GC });
  try {
    for (let index = 0; index < 80; index++) await cluster.put(`gc-${index}`, `${index}`);
    const leader = await cluster.waitForLeader(FIRST_REGION_ID);
    await cluster.waitFor("the log to be truncated", async () => {
      const first = await leader.engines.raftLogStore.firstStoredIndex(FIRST_REGION_ID);
      return first !== undefined && first > 40;
    });
    for (const storeId of cluster.storeIds) await cluster.stopStore(storeId);
    for (const storeId of cluster.storeIds) await cluster.startStore(storeId);
    for (let index = 0; index < 80; index += 9) assert.equal(await cluster.get(`gc-${index}`), `${index}`);
  } finally {
    await cluster.close();
  }
});
