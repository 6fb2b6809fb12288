import assert from "node:assert/strict";
import { test } from "node:test";
import { metapb } from "#proto";
import { waitPeerGone } from "../testing/cluster/cluster-checks.ts";
import { StoreCluster } from "../testing/cluster/store-cluster.ts";
import { findPeerOnStore } from "./region-meta.ts";
import { InvalidPeerChangeError, UnsafePeerChangeError } from "./store.ts";

function peerOn(cluster: StoreCluster, index: number): metapb.Peer {
  const region = cluster.routeRegion(cluster.firstRegionId).region;
  const peer = findPeerOnStore(region, cluster.storeId(index));
  assert.ok(peer, `the first region has no peer on store ${index}`);
  return peer;
}

test("add a learner, promote it, remove it: the removed peer's data and log are gone", async () => {
  const cluster = await StoreCluster.start({ label: "learner promote remove", stores: 4, replicas: 3 });
  try {
    const regionId = cluster.firstRegionId;
    await cluster.put("a", "1");
    const learner = {
      id: await cluster.allocId(),
      storeId: cluster.storeId(3),
      role: metapb.PeerRole.LEARNER,
    };
    const withLearner = await cluster.changePeer(regionId, { type: "add-learner", peer: learner });
    assert.equal(withLearner.regionEpoch?.confVer, 2n);
    await cluster.waitFor(
      "the learner to receive the data",
      async () => (await cluster.localGet(3, "a")) === "1",
    );
    const promoted = await cluster.changePeer(regionId, {
      type: "promote",
      peer: { ...learner, role: metapb.PeerRole.VOTER },
    });
    assert.equal(findPeerOnStore(promoted, cluster.storeId(3))?.role, metapb.PeerRole.VOTER);
    assert.equal(promoted.regionEpoch?.confVer, 3n);
    await cluster.put("b", "2");
    await cluster.waitFor("the new voter to apply", async () => (await cluster.localGet(3, "b")) === "2");

    const removed = await cluster.removePeer(regionId, 3);
    assert.equal(findPeerOnStore(removed, cluster.storeId(3)), undefined);
    await waitPeerGone(cluster, 3, regionId);
    assert.equal(await cluster.engineGet(3, "a"), undefined);
    assert.equal(await cluster.engineGet(3, "b"), undefined);
    await cluster.put("c", "3");
    assert.equal(await cluster.get("c"), "3");
  } finally {
    await cluster.close();
  }
});

test("TinyKV's TestBasicConfChange3B: shrink to one peer, re-add old and new peer ids", async () => {
  const cluster = await StoreCluster.start({ label: "basic conf change", stores: 5, replicas: 5 });
  try {
    const regionId = cluster.firstRegionId;
    await cluster.transferLeader(regionId, 0);
    const original = new Map(cluster.indexes.map((index) => [index, peerOn(cluster, index)]));
    for (const index of [1, 2, 3, 4]) await cluster.removePeer(regionId, index);
    await cluster.put("k1", "v1");
    assert.equal(await cluster.localGet(1, "k1"), undefined);

    // The same peer id comes back on store 1: its tombstone is older than the new membership.
    await cluster.addPeer(regionId, 1, { peerId: original.get(1)!.id });
    await cluster.put("k2", "v2");
    await cluster.waitFor(
      "store 1 to hold k1 and k2",
      async () => (await cluster.localGet(1, "k2")) === "v2",
    );
    assert.equal(await cluster.localGet(1, "k1"), "v1");
    assert.ok((cluster.routeRegion(regionId).region.regionEpoch?.confVer ?? 0n) > 1n);

    await cluster.addPeer(regionId, 2, { peerId: original.get(2)!.id });
    await cluster.removePeer(regionId, 1);
    await cluster.put("k3", "v3");
    await cluster.waitFor("store 2 to hold k3", async () => (await cluster.localGet(2, "k3")) === "v3");
    assert.equal(await cluster.localGet(2, "k1"), "v1");
    assert.equal(await cluster.localGet(2, "k2"), "v2");
    await waitPeerGone(cluster, 1, regionId);
    assert.equal(await cluster.engineGet(1, "k1"), undefined);
    assert.equal(await cluster.engineGet(1, "k2"), undefined);

    await cluster.addPeer(regionId, 1, { peerId: original.get(1)!.id });
    await cluster.waitFor("store 1 to hold k3", async () => (await cluster.localGet(1, "k3")) === "v3");
    assert.equal(await cluster.localGet(1, "k1"), "v1");
    await cluster.removePeer(regionId, 1);
    await waitPeerGone(cluster, 1, regionId);

    // A new peer id on store 1, then the peer that held the data longest goes.
    const fresh = await cluster.addPeer(regionId, 1);
    assert.notEqual(fresh.id, original.get(1)!.id);
    await cluster.removePeer(regionId, 2);
    await cluster.put("k4", "v4");
    await cluster.waitFor("store 1 to hold k4", async () => (await cluster.localGet(1, "k4")) === "v4");
    assert.equal(await cluster.localGet(1, "k1"), "v1");
    await waitPeerGone(cluster, 2, regionId);
    assert.equal(await cluster.engineGet(2, "k1"), undefined);
    assert.equal(await cluster.engineGet(2, "k4"), undefined);
  } finally {
    await cluster.close();
  }
});

test("removing the leader hands leadership over first; two voters shrink to one", async () => {
  const cluster = await StoreCluster.start({ label: "remove the leader", stores: 2 });
  try {
    const regionId = cluster.firstRegionId;
    await cluster.put("x", "1");
    const leader = await cluster.waitLeaderOfRegion(regionId);
    const region = await cluster.removePeer(regionId, leader.index);
    assert.equal(region.peers.length, 1);
    const survivor = region.peers[0]!.storeId;
    assert.notEqual(survivor, leader.store.storeId);
    await waitPeerGone(cluster, leader.index, regionId);
    await cluster.put("y", "2");
    assert.equal(await cluster.get("x"), "1");
    assert.equal(await cluster.get("y"), "2");
  } finally {
    await cluster.close();
  }
});

test("conf changes survive restarts and are not applied twice", async () => {
  const cluster = await StoreCluster.start({ label: "conf changes restart", stores: 4, replicas: 3 });
  try {
    const regionId = cluster.firstRegionId;
    await cluster.addPeer(regionId, 3);
    await cluster.removePeer(regionId, 2);
    await cluster.put("key", "value");
    const expected = cluster.routeRegion(regionId).region;
    for (const index of [0, 1, 3]) await cluster.stop(index);
    for (const index of [0, 1, 3]) await cluster.restart(index);
    const region = (await cluster.waitLeaderOfRegion(regionId)).store.region(regionId);
    assert.deepEqual(region?.regionEpoch, expected.regionEpoch);
    assert.deepEqual(region?.peers.map((peer) => cluster.indexOf(peer.storeId)).sort(), [0, 1, 3]);
    assert.equal(await cluster.get("key"), "value");
  } finally {
    await cluster.close();
  }
});

test("the only voter cannot be removed", async () => {
  const cluster = await StoreCluster.start({ label: "only voter", stores: 1 });
  try {
    await cluster.put("k", "v");
    const leader = await cluster.waitLeaderOfRegion(cluster.firstRegionId);
    await assert.rejects(
      leader.store.changePeer(cluster.firstRegionId, { type: "remove", peer: peerOn(cluster, 0) }),
      InvalidPeerChangeError,
    );
    assert.equal(await cluster.get("k"), "v");
  } finally {
    await cluster.close();
  }
});

test("a conf change proposed while a store restarts applies exactly once everywhere (TestConfChangeRecover)", async () => {
  const cluster = await StoreCluster.start({ label: "conf change recover", stores: 4, replicas: 3 });
  try {
    const regionId = cluster.firstRegionId;
    await cluster.transferLeader(regionId, 0);
    await cluster.put("k", "v");
    await cluster.stop(1);
    await cluster.addPeer(regionId, 3);
    await cluster.restart(1);
    await cluster.stop(2);
    await cluster.put("k2", "v2");
    await cluster.restart(2);
    const expected = cluster.routeRegion(regionId).region;
    for (const index of cluster.indexes) {
      await cluster.waitFor(`store ${index} to reach the region's epoch`, () => {
        const region = cluster.store(index).region(regionId);
        return region?.regionEpoch?.confVer === expected.regionEpoch?.confVer;
      });
      assert.deepEqual(cluster.store(index).region(regionId)?.peers, expected.peers);
      await cluster.waitFor(
        `store ${index} to hold k2`,
        async () => (await cluster.localGet(index, "k2")) === "v2",
      );
    }
  } finally {
    await cluster.close();
  }
});

test("promoting a learner that replicated nothing is refused as unsafe until it catches up", async () => {
  const cluster = await StoreCluster.start({ label: "unsafe promotion", stores: 2, replicas: 1 });
  try {
    const regionId = cluster.firstRegionId;
    await cluster.put("a", "1");
    // The learner's store hears nothing: the lone voter commits the learner's addition by itself.
    const heal = cluster.partition([[1], [0]]);
    const learner = {
      id: await cluster.allocId(),
      storeId: cluster.storeId(1),
      role: metapb.PeerRole.LEARNER,
    };
    await cluster.changePeer(regionId, { type: "add-learner", peer: learner });
    const promote = { type: "promote", peer: { ...learner, role: metapb.PeerRole.VOTER } } as const;
    // Two voters, one of them empty: promoting would leave the region without a working quorum.
    await assert.rejects(
      cluster.store(0).changePeer(regionId, promote),
      (error: unknown) =>
        error instanceof UnsafePeerChangeError && /1 of 2 voters would be healthy/.test(error.message),
    );
    assert.equal(
      findPeerOnStore(cluster.routeRegion(regionId).region, cluster.storeId(1))?.role,
      metapb.PeerRole.LEARNER,
    );
    await cluster.put("b", "2");
    heal();
    // Once the learner holds the log, the same promotion goes through and the region keeps serving.
    const promoted = await cluster.changePeer(regionId, promote);
    assert.equal(findPeerOnStore(promoted, cluster.storeId(1))?.role, metapb.PeerRole.VOTER);
    await cluster.put("c", "3");
    await cluster.waitFor("the new voter to apply", async () => (await cluster.localGet(1, "c")) === "3");
  } finally {
    await cluster.close();
  }
});
