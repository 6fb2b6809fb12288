import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { metapb, pdpb } from "#proto";
import {
  addLearner,
  promoteLearner,
  removePeer,
  splitRegion,
  stepToResponse,
  transferLeader,
} from "../schedule/operator-step.ts";
import { SimulatedCluster, SimulationInvariantError } from "./simulated-cluster.ts";

function threeStoreRegion() {
  const cluster = new SimulatedCluster({ firstId: 1n });
  const stores = [cluster.addStore(), cluster.addStore(), cluster.addStore(), cluster.addStore()];
  const regionId = cluster.addRegion({ storeIds: stores.slice(0, 3), sizeBytes: 300 });
  return { cluster, stores, regionId };
}

describe("SimulatedCluster (the stores' side of scheduling, for tests)", () => {
  it("applies conf changes like a leader: learner (pending until caught up), promote, remove; conf_ver + 1 each", () => {
    const { cluster, stores, regionId } = threeStoreRegion();
    const reply = (step: Parameters<typeof stepToResponse>[0]) =>
      stepToResponse(step, cluster.heartbeat(regionId)!);

    assert.deepEqual(cluster.apply(reply(addLearner(stores[3]!, 99n))), { applied: true });
    let region = cluster.heartbeat(regionId)!;
    assert.equal(region.meta.regionEpoch?.confVer, 2n);
    assert.deepEqual(
      region.pendingPeers.map((peer) => peer.id),
      [99n],
    );
    cluster.catchUpLearners();
    cluster.apply(reply(promoteLearner(stores[3]!, 99n)));
    const third = cluster.heartbeat(regionId)!.meta.peers.find((peer) => peer.storeId === stores[2])!;
    cluster.apply(reply(removePeer(stores[2]!, third.id)));

    region = cluster.heartbeat(regionId)!;
    assert.equal(region.meta.regionEpoch?.confVer, 4n);
    assert.deepEqual(
      region.meta.peers.map((peer) => [peer.storeId, peer.role]),
      [
        [stores[0], metapb.PeerRole.VOTER],
        [stores[1], metapb.PeerRole.VOTER],
        [stores[3], metapb.PeerRole.VOTER],
      ],
    );
  });

  it("ignores replies computed against an older epoch", () => {
    const { cluster, stores, regionId } = threeStoreRegion();
    const stale = stepToResponse(transferLeader(stores[0]!, stores[1]!), cluster.heartbeat(regionId)!);
    cluster.apply(stepToResponse(addLearner(stores[3]!, 99n), cluster.heartbeat(regionId)!));
    assert.deepEqual(cluster.apply(stale), { applied: false, reason: `stale epoch for region ${regionId}` });
  });

  it("refuses to hand leadership to a learner and throws when asked to remove the leader", () => {
    const { cluster, stores, regionId } = threeStoreRegion();
    cluster.apply(stepToResponse(addLearner(stores[3]!, 99n), cluster.heartbeat(regionId)!));
    cluster.catchUpLearners();
    const toLearner = cluster.apply(
      stepToResponse(transferLeader(stores[0]!, stores[3]!), cluster.heartbeat(regionId)!),
    );
    assert.equal(toLearner.applied, false);

    const leader = cluster.heartbeat(regionId)!.leader!;
    const removeLeader = stepToResponse(removePeer(leader.storeId, leader.id), cluster.heartbeat(regionId)!);
    assert.throws(() => cluster.apply(removeLeader), SimulationInvariantError);
  });

  it("throws when a change leaves the voters without a serving majority", () => {
    const { cluster, stores, regionId } = threeStoreRegion();
    cluster.setStoreHealth(stores[2]!, "down");
    const follower = cluster.heartbeat(regionId)!.meta.peers.find((peer) => peer.storeId === stores[1])!;
    const removal = stepToResponse(removePeer(stores[1]!, follower.id), cluster.heartbeat(regionId)!);
    assert.throws(() => cluster.apply(removal), /left with 1 serving of 2 voters/);
  });

  it("re-elects leaders off a failed store, and loses the leader without a majority", () => {
    const { cluster, stores, regionId } = threeStoreRegion();
    cluster.setStoreHealth(stores[0]!, "down");
    assert.equal(cluster.heartbeat(regionId)?.leader?.storeId, stores[1]);
    assert.deepEqual(
      cluster.heartbeat(regionId)?.downPeers.map((stats) => stats.peer?.storeId),
      [stores[0]],
    );
    cluster.setStoreHealth(stores[1]!, "down");
    assert.equal(cluster.heartbeat(regionId), undefined);
  });

  it("splits at the given keys with version + 1 per new region and fresh ids on the same stores", () => {
    const { cluster, regionId } = threeStoreRegion();
    const key = new TextEncoder().encode("k");
    const reply = stepToResponse(
      splitRegion({ policy: pdpb.CheckPolicy.USE_KEY, keys: [key], versionBefore: 1n }),
      cluster.heartbeat(regionId)!,
    );
    assert.deepEqual(cluster.apply(reply), { applied: true });

    const [left, right] = cluster.regionIds().map((id) => cluster.region(id)!);
    assert.equal(left?.meta.id, regionId);
    assert.deepEqual(left?.meta.endKey, key);
    assert.deepEqual(right?.meta.startKey, key);
    assert.equal(left?.meta.regionEpoch?.version, 2n);
    assert.equal(right?.meta.regionEpoch?.version, 2n);
    const leftPeerIds = new Set(left?.meta.peers.map((peer) => peer.id));
    assert.ok(right?.meta.peers.every((peer) => !leftPeerIds.has(peer.id)));
    assert.deepEqual(
      right?.meta.peers.map((peer) => peer.storeId),
      left?.meta.peers.map((peer) => peer.storeId),
    );
    assert.equal(right?.leader?.storeId, left?.leader?.storeId);
  });

  it("reports per-store counts from its regions", () => {
    const { cluster, stores } = threeStoreRegion();
    const first = cluster.store(stores[0]!)!;
    assert.deepEqual([first.regionCount, first.leaderCount, first.regionSizeBytes], [1, 1, 300]);
    assert.equal(cluster.store(stores[3]!)?.regionCount, 0);
    assert.equal([...cluster.leaderRegionsOnStore(stores[1]!)].length, 0);
    assert.equal([...cluster.regionsOnStore(stores[1]!)].length, 1);
  });
});
