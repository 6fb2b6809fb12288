import assert from "node:assert/strict";
import { test } from "node:test";
import { eraftpb } from "#proto";
import { bytes } from "../testing/bytes.ts";
import { StoreCluster } from "../testing/cluster/store-cluster.ts";
import { dropMatching } from "../testing/transport-filters.ts";
import { RegionError } from "./region-errors.ts";

test("leadership moves to each store in turn and the region keeps serving", async () => {
  const cluster = await StoreCluster.start({ label: "leadership in turn", stores: 3 });
  try {
    for (const index of [1, 2, 0, 2]) {
      await cluster.transferLeader(cluster.firstRegionId, index);
      assert.equal(cluster.leaderOfRegion(cluster.firstRegionId)?.index, index);
      await cluster.put(`written-under-${index}`, "yes");
      assert.equal(await cluster.get(`written-under-${index}`), "yes");
    }
  } finally {
    await cluster.close();
  }
});

test("transferAllLeadersAway leaves the store leading nothing", async () => {
  const cluster = await StoreCluster.start({ label: "leaders away", stores: 3 });
  try {
    const [, right] = await cluster.split(bytes("m"));
    await cluster.waitLeaderOfRegion(right.id);
    await cluster.transferLeader(cluster.firstRegionId, 0);
    await cluster.transferLeader(right.id, 0);
    await cluster.store(0).transferAllLeadersAway(5_000);
    assert.ok(
      cluster
        .store(0)
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
  const cluster = await StoreCluster.start({ label: "isolated leader reads", stores: 3 });
  try {
    await cluster.put("key", "old");
    const oldRoute = await cluster.waitLeaderOfRegion(cluster.firstRegionId);
    const oldLeader = oldRoute.store;
    const others = cluster.indexes.filter((index) => index !== oldRoute.index);
    const heal = cluster.partition([[oldRoute.index], others]);
    await cluster.waitFor("a new leader on the majority side", () =>
      others.some((index) =>
        cluster
          .store(index)
          .peers()
          .some((peer) => peer.isLeader),
      ),
    );
    const newLeader = others
      .map((index) => cluster.store(index))
      .find((store) => store.peers()[0]?.isLeader)!;
    const newRoute = {
      ...oldRoute.context,
      peer: newLeader.region(cluster.firstRegionId)!.peers.find((peer) => peer.storeId === newLeader.storeId),
    };
    await newLeader.write(newRoute, [{ type: "put", key: bytes("key"), value: bytes("new") }]);
    await assert.rejects(
      oldLeader.read(oldRoute.context, { kind: "keys", keys: [bytes("key")] }, (reader) =>
        reader.get(bytes("key")),
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
  const cluster = await StoreCluster.start({ label: "replica reads", stores: 3 });
  try {
    await cluster.put("replica", "value");
    const leader = await cluster.waitLeaderOfRegion(cluster.firstRegionId);
    const follower = cluster.indexes.find((index) => index !== leader.index)!;
    const region = cluster.store(follower).region(cluster.firstRegionId)!;
    const context = {
      regionId: cluster.firstRegionId,
      regionEpoch: region.regionEpoch,
      peer: region.peers.find((peer) => peer.storeId === cluster.storeId(follower)),
      replicaRead: true,
    };
    await cluster.put("replica", "newer");
    const value = await cluster
      .store(follower)
      .read(context, { kind: "keys", keys: [bytes("replica")] }, (reader) => reader.get(bytes("replica")));
    assert.equal(Buffer.from(value!).toString(), "newer");
    // Without a leader to confirm the read index, a replica read fails instead of answering stale data.
    const stop = cluster.addFilter(
      dropMatching({ types: [eraftpb.MessageType.READ_INDEX, eraftpb.MessageType.READ_INDEX_RESP] }),
    );
    await assert.rejects(
      cluster
        .store(follower)
        .read(context, { kind: "keys", keys: [bytes("replica")] }, (reader) => reader.get(bytes("replica"))),
      RegionError,
    );
    stop();
  } finally {
    await cluster.close();
  }
});
