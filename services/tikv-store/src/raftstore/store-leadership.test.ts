import assert from "node:assert/strict";
import { test } from "node:test";
import { eraftpb } from "#proto";
import { FIRST_REGION_ID, TestCluster, text } from "../testing/raftstore-cluster.ts";
import { RegionError } from "./region-errors.ts";

test("leadership moves to each store in turn and the region keeps serving", async () => {
  const cluster = await TestCluster.start({ storeCount: 3 });
  try {
    for (const storeId of [2n, 3n, 1n, 3n]) {
      await cluster.transferLeader(FIRST_REGION_ID, storeId);
      assert.equal(cluster.leaderStore(FIRST_REGION_ID)?.storeId, storeId);
      await cluster.put(`written-under-${storeId}`, "yes");
      assert.equal(await cluster.get(`written-under-${storeId}`), "yes");
    }
  } finally {
    await cluster.close();
  }
});

test("transferAllLeadersAway leaves the store leading nothing", async () => {
  const cluster = await TestCluster.start({ storeCount: 3 });
  try {
    const [, right] = await cluster.split("m");
    await cluster.waitForLeader(right!.id);
    await cluster.transferLeader(FIRST_REGION_ID, 1n);
    await cluster.transferLeader(right!.id, 1n);
    await cluster.store(1n).transferAllLeadersAway(5_000);
    assert.ok(
      cluster
        .store(1n)
        .peers()
        .every((peer) => !peer.isLeader),
    );
    await cluster.put("a", "still served");
    await cluster.put("z", "still served");
    assert.equal(await cluster.get("z"), "still served");
  } finally {
    await cluster.close();
  }
});

test("an isolated leader never answers a read with data older than an acknowledged write", async () => {
  const cluster = await TestCluster.start({ storeCount: 3 });
  try {
    await cluster.put("key", "old");
    const oldLeader = await cluster.waitForLeader(FIRST_REGION_ID);
    const oldRoute = cluster.routeRegion(FIRST_REGION_ID);
    const others = cluster.storeIds.filter((storeId) => storeId !== oldLeader.storeId);
    const heal = cluster.hub.partition([oldLeader.storeId], others);
    await cluster.waitFor("a new leader on the majority side", () =>
      others.some((storeId) =>
        cluster
          .store(storeId)
          .peers()
          .some((peer) => peer.isLeader),
      ),
    );
    const newLeader = others
      .map((storeId) => cluster.store(storeId))
      .find((store) => store.peers()[0]?.isLeader)!;
    const newRoute = {
      ...oldRoute.context,
      peer: newLeader.region(FIRST_REGION_ID)!.peers.find((peer) => peer.storeId === newLeader.storeId),
    };
    await newLeader.write(newRoute, [{ type: "put", key: text("key"), value: text("new") }]);
    await assert.rejects(
      oldLeader.read(oldRoute.context, { kind: "keys", keys: [text("key")] }, (reader) =>
        reader.get(text("key")),
      ),
      RegionError,
    );
    heal();
    assert.equal(await cluster.get("key"), "new");
  } finally {
    await cluster.close();
  }
});

test("a follower serves replica reads through the leader's read index", async () => {
  const cluster = await TestCluster.start({ storeCount: 3 });
  try {
    await cluster.put("replica", "value");
    const leader = await cluster.waitForLeader(FIRST_REGION_ID);
    const follower = cluster.storeIds.find((storeId) => storeId !== leader.storeId)!;
    const region = cluster.store(follower).region(FIRST_REGION_ID)!;
    const context = {
      regionId: FIRST_REGION_ID,
      regionEpoch: region.regionEpoch,
      peer: region.peers.find((peer) => peer.storeId === follower),
      replicaRead: true,
    };
    await cluster.put("replica", "newer");
    const value = await cluster
      .store(follower)
      .read(context, { kind: "keys", keys: [text("replica")] }, (reader) => reader.get(text("replica")));
    assert.equal(Buffer.from(value!).toString(), "newer");
    // Without a leader to confirm the read index, a replica read fails instead of answering stale data.
    const stop = cluster.hub.dropTypes([eraftpb.MessageType.READ_INDEX, eraftpb.MessageType.READ_INDEX_RESP]);
    await assert.rejects(
      cluster
        .store(follower)
        .read(context, { kind: "keys", keys: [text("replica")] }, (reader) => reader.get(text("replica"))),
      RegionError,
    );
    stop();
  } finally {
    await cluster.close();
  }
});
