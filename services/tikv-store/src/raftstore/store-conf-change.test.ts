import assert from "node:assert/strict";
import { test } from "node:test";
import { metapb, raft_serverpb } from "#proto";
import { FIRST_REGION_ID, TestCluster } from "../testing/raftstore-cluster.ts";
import { findPeerOnStore } from "./region-meta.ts";
import { InvalidPeerChangeError, UnsafePeerChangeError } from "./store.ts";

async function assertPeerGone(cluster: TestCluster, storeId: bigint, regionId: bigint): Promise<void> {
  await cluster.waitFor(`store ${storeId} to destroy its peer of region ${regionId}`, () =>
    cluster
      .store(storeId)
      .peers()
      .every((peer) => peer.regionId !== regionId),
  );
  const { kvEngine, raftLogStore } = cluster.store(storeId).engines;
  const persisted = (await kvEngine.loadRegions()).find((region) => region.regionId === regionId);
  assert.equal(persisted?.regionState.state, raft_serverpb.PeerState.TOMBSTONE);
  assert.equal(persisted?.applyState, undefined);
  assert.equal(await raftLogStore.raftState(regionId), undefined);
  assert.equal(await raftLogStore.firstStoredIndex(regionId), undefined);
}

function peerOn(cluster: TestCluster, storeId: bigint): metapb.Peer {
  const region = cluster.routeRegion(FIRST_REGION_ID).region;
  const peer = findPeerOnStore(region, storeId);
  assert.ok(peer, `region 1 has no peer on store ${storeId}`);
  return peer;
}

test("add a learner, promote it, remove it: the removed peer's data and log are gone", async () => {
  const cluster = await TestCluster.start({ storeCount: 4, initialStores: [1n, 2n, 3n] });
  try {
    await cluster.put("a", "1");
    const learner = { id: cluster.pd.allocId(), storeId: 4n, role: metapb.PeerRole.LEARNER };
    const withLearner = await cluster.changePeer(FIRST_REGION_ID, { type: "add-learner", peer: learner });
    assert.equal(withLearner.regionEpoch?.confVer, 2n);
    await cluster.waitFor(
      "the learner to receive the data",
      async () => (await cluster.localGet(4n, "a")) === "1",
    );
    const promoted = await cluster.changePeer(FIRST_REGION_ID, {
      type: "promote",
      peer: { ...learner, role: metapb.PeerRole.VOTER },
    });
    assert.equal(findPeerOnStore(promoted, 4n)?.role, metapb.PeerRole.VOTER);
    assert.equal(promoted.regionEpoch?.confVer, 3n);
    await cluster.put("b", "2");
    await cluster.waitFor("the new voter to apply", async () => (await cluster.localGet(4n, "b")) === "2");

    const removed = await cluster.removePeer(FIRST_REGION_ID, peerOn(cluster, 4n));
    assert.equal(findPeerOnStore(removed, 4n), undefined);
    await assertPeerGone(cluster, 4n, FIRST_REGION_ID);
    assert.equal(await cluster.engineGet(4n, "a"), undefined);
    assert.equal(await cluster.engineGet(4n, "b"), undefined);
    await cluster.put("c", "3");
    assert.equal(await cluster.get("c"), "3");
  } finally {
    await cluster.close();
  }
});

test("TinyKV's TestBasicConfChange3B: shrink to one peer, re-add old and new peer ids", async () => {
  const cluster = await TestCluster.start({ storeCount: 5 });
  try {
    await cluster.transferLeader(FIRST_REGION_ID, 1n);
    const original = new Map(cluster.storeIds.map((storeId) => [storeId, peerOn(cluster, storeId)]));
    for (const storeId of [2n, 3n, 4n, 5n]) await cluster.removePeer(FIRST_REGION_ID, original.get(storeId)!);
    await cluster.put("k1", "v1");
    assert.equal(await cluster.localGet(2n, "k1"), undefined);

    // The same peer id comes back on store 2: its tombstone is older than the new membership.
    await cluster.addPeer(FIRST_REGION_ID, 2n, original.get(2n)!.id);
    await cluster.put("k2", "v2");
    await cluster.waitFor(
      "store 2 to hold k1 and k2",
      async () => (await cluster.localGet(2n, "k2")) === "v2",
    );
    assert.equal(await cluster.localGet(2n, "k1"), "v1");
    assert.ok((cluster.routeRegion(FIRST_REGION_ID).region.regionEpoch?.confVer ?? 0n) > 1n);

    await cluster.addPeer(FIRST_REGION_ID, 3n, original.get(3n)!.id);
    await cluster.removePeer(FIRST_REGION_ID, original.get(2n)!);
    await cluster.put("k3", "v3");
    await cluster.waitFor("store 3 to hold k3", async () => (await cluster.localGet(3n, "k3")) === "v3");
    assert.equal(await cluster.localGet(3n, "k1"), "v1");
    assert.equal(await cluster.localGet(3n, "k2"), "v2");
    await assertPeerGone(cluster, 2n, FIRST_REGION_ID);
    assert.equal(await cluster.engineGet(2n, "k1"), undefined);
    assert.equal(await cluster.engineGet(2n, "k2"), undefined);

    await cluster.addPeer(FIRST_REGION_ID, 2n, original.get(2n)!.id);
    await cluster.waitFor("store 2 to hold k3", async () => (await cluster.localGet(2n, "k3")) === "v3");
    assert.equal(await cluster.localGet(2n, "k1"), "v1");
    await cluster.removePeer(FIRST_REGION_ID, original.get(2n)!);
    await assertPeerGone(cluster, 2n, FIRST_REGION_ID);

    // A new peer id on store 2, then the peer that held the data longest goes.
    const fresh = await cluster.addPeer(FIRST_REGION_ID, 2n);
    assert.notEqual(fresh.id, original.get(2n)!.id);
    await cluster.removePeer(FIRST_REGION_ID, original.get(3n)!);
    await cluster.put("k4", "v4");
    await cluster.waitFor("store 2 to hold k4", async () => (await cluster.localGet(2n, "k4")) === "v4");
    assert.equal(await cluster.localGet(2n, "k1"), "v1");
    await assertPeerGone(cluster, 3n, FIRST_REGION_ID);
    assert.equal(await cluster.engineGet(3n, "k1"), undefined);
    assert.equal(await cluster.engineGet(3n, "k4"), undefined);
  } finally {
    await cluster.close();
  }
});

test("removing the leader hands leadership over first; two voters shrink to one", async () => {
  const cluster = await TestCluster.start({ storeCount: 2 });
  try {
    await cluster.put("x", "1");
    const leader = await cluster.waitForLeader(FIRST_REGION_ID);
    const leaderPeer = peerOn(cluster, leader.storeId);
    const region = await cluster.removePeer(FIRST_REGION_ID, leaderPeer);
    assert.equal(region.peers.length, 1);
    const survivor = region.peers[0]!.storeId;
    assert.notEqual(survivor, leader.storeId);
    await assertPeerGone(cluster, leader.storeId, FIRST_REGION_ID);
    await cluster.put("y", "2");
    assert.equal(await cluster.get("x"), "1");
    assert.equal(await cluster.get("y"), "2");
  } finally {
    await cluster.close();
  }
});

test("conf changes survive restarts and are not applied twice", async () => {
  const cluster = await TestCluster.start({ storeCount: 4, initialStores: [1n, 2n, 3n] });
  try {
    await cluster.addPeer(FIRST_REGION_ID, 4n);
    await cluster.removePeer(FIRST_REGION_ID, peerOn(cluster, 3n));
    await cluster.put("key", "value");
    const expected = cluster.routeRegion(FIRST_REGION_ID).region;
    for (const storeId of [1n, 2n, 4n]) await cluster.stopStore(storeId);
    for (const storeId of [1n, 2n, 4n]) await cluster.startStore(storeId);
    const region = (await cluster.waitForLeader(FIRST_REGION_ID)).region(FIRST_REGION_ID);
    assert.deepEqual(region?.regionEpoch, expected.regionEpoch);
    assert.deepEqual(region?.peers.map((peer) => peer.storeId).sort(), [1n, 2n, 4n]);
    assert.equal(await cluster.get("key"), "value");
  } finally {
    await cluster.close();
  }
});

test("the only voter cannot be removed", async () => {
  const cluster = await TestCluster.start({ storeCount: 1 });
  try {
    await cluster.put("k", "v");
    const leader = await cluster.waitForLeader(FIRST_REGION_ID);
    await assert.rejects(
      leader.changePeer(FIRST_REGION_ID, { type: "remove", peer: peerOn(cluster, 1n) }),
      InvalidPeerChangeError,
    );
    assert.equal(await cluster.get("k"), "v");
  } finally {
    await cluster.close();
  }
});

test("a conf change proposed while a store restarts applies exactly once everywhere (TestConfChangeRecover)", async () => {
  const cluster = await TestCluster.start({ storeCount: 4, initialStores: [1n, 2n, 3n] });
  try {
    await cluster.transferLeader(FIRST_REGION_ID, 1n);
    await cluster.put("k", "v");
    await cluster.stopStore(2n);
    await cluster.addPeer(FIRST_REGION_ID, 4n);
    await cluster.startStore(2n);
    await cluster.stopStore(3n);
    await cluster.put("k2", "v2");
    await cluster.startStore(3n);
    const expected = cluster.routeRegion(FIRST_REGION_ID).region;
    for (const storeId of cluster.storeIds) {
      await cluster.waitFor(`store ${storeId} to reach the region's epoch`, () => {
        const region = cluster.store(storeId).region(FIRST_REGION_ID);
        return region?.regionEpoch?.confVer === expected.regionEpoch?.confVer;
      });
      assert.deepEqual(cluster.store(storeId).region(FIRST_REGION_ID)?.peers, expected.peers);
      await cluster.waitFor(
        `store ${storeId} to hold k2`,
        async () => (await cluster.localGet(storeId, "k2")) === "v2",
      );
    }
  } finally {
    await cluster.close();
  }
});

test("promoting a learner that replicated nothing is refused as unsafe until it catches up", async () => {
  const cluster = await TestCluster.start({ storeCount: 2, initialStores: [1n] });
  try {
    await cluster.put("a", "1");
    // The learner's store hears nothing: the lone voter commits the learner's addition by itself.
    const heal = cluster.hub.partition([2n], [1n]);
    const learner = { id: cluster.pd.allocId(), storeId: 2n, role: metapb.PeerRole.LEARNER };
    await cluster.changePeer(FIRST_REGION_ID, { type: "add-learner", peer: learner });
    const promote = { type: "promote", peer: { ...learner, role: metapb.PeerRole.VOTER } } as const;
    // Two voters, one of them empty: promoting would leave the region without a working quorum.
    await assert.rejects(
      cluster.store(1n).changePeer(FIRST_REGION_ID, promote),
      (error: unknown) =>
        error instanceof UnsafePeerChangeError && /1 of 2 voters would be healthy/.test(error.message),
    );
    assert.equal(
      findPeerOnStore(cluster.routeRegion(FIRST_REGION_ID).region, 2n)?.role,
      metapb.PeerRole.LEARNER,
    );
    await cluster.put("b", "2");
    heal();
    // Once the learner holds the log, the same promotion goes through and the region keeps serving.
    const promoted = await cluster.changePeer(FIRST_REGION_ID, promote);
    assert.equal(findPeerOnStore(promoted, 2n)?.role, metapb.PeerRole.VOTER);
    await cluster.put("c", "3");
    await cluster.waitFor("the new voter to apply", async () => (await cluster.localGet(2n, "c")) === "3");
  } finally {
    await cluster.close();
  }
});
