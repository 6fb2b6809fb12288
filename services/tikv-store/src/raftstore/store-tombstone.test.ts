/**
 * Tombstones of destroyed peers: they refuse messages meant for older peers even after a restart, and tell
 * a removed peer that still campaigns to destroy itself.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { metapb, raft_serverpb } from "#proto";
import { MessageType } from "#raft";
import { StoreCluster } from "../testing/cluster/store-cluster.ts";
import { messageToWire } from "./raft-message.ts";
import { findPeerOnStore } from "./region-meta.ts";

function peerOn(cluster: StoreCluster, index: number): metapb.Peer {
  const peer = findPeerOnStore(cluster.routeRegion(cluster.firstRegionId).region, cluster.storeId(index));
  assert.ok(peer, `the first region has no peer on store ${index}`);
  return peer;
}

function holdsRegion(cluster: StoreCluster, index: number): boolean {
  return cluster
    .store(index)
    .peers()
    .some((peer) => peer.regionId === cluster.firstRegionId);
}

async function persistedState(cluster: StoreCluster, index: number) {
  const regions = await cluster.store(index).engines.kvEngine.loadRegions();
  return regions.find((region) => region.regionId === cluster.firstRegionId)?.regionState.state;
}

const droppedAsTombstone = (cluster: StoreCluster, index: number) =>
  cluster.counter(index, "store_raftstore_raft_messages_dropped_total", { reason: "tombstone" });

/** Received messages are routed in the store's next turn: waits until `count` were refused as tombstoned. */
const waitDroppedAsTombstone = (cluster: StoreCluster, index: number, count: number, why: string) =>
  cluster.waitFor(why, async () => (await droppedAsTombstone(cluster, index)) === count);

/**
 * A leader's first heartbeat to `to`, from a membership newer than any the cluster had. The leader is on a
 * store that does not exist, so a peer the message creates disturbs nobody when it answers.
 */
const FUTURE_LEADER = metapb.Peer.fromPartial({ id: 999_999n, storeId: 99n });

function heartbeatFromTheFuture(regionId: bigint, to: metapb.Peer): raft_serverpb.RaftMessage {
  const from = FUTURE_LEADER;
  return raft_serverpb.RaftMessage.fromPartial({
    regionId,
    fromPeer: from,
    toPeer: to,
    regionEpoch: { confVer: 100n, version: 1n },
    message: messageToWire({
      type: MessageType.Heartbeat,
      from: Number(from.id),
      to: Number(to.id),
      term: 1_000,
      logTerm: 0,
      index: 0,
      entries: [],
      commit: 0,
      reject: false,
      rejectHint: 0,
    }),
  });
}

test("a tombstone refuses older peer ids after a restart too, and lets the destroyed id be re-added", async () => {
  const cluster = await StoreCluster.start({ label: "tombstone after restart", stores: 3 });
  try {
    const regionId = cluster.firstRegionId;
    await cluster.put("a", "1");
    await cluster.transferLeader(regionId, 0);
    const removed = peerOn(cluster, 1);
    await cluster.removePeer(regionId, 1);
    await cluster.waitFor("store 1 to destroy its peer", () => !holdsRegion(cluster, 1));

    const older = { ...removed, id: removed.id - 1n };
    cluster.store(1).onRaftMessages([heartbeatFromTheFuture(regionId, older)]);
    await waitDroppedAsTombstone(cluster, 1, 1, "refused before a restart");
    await cluster.stop(1);
    await cluster.restart(1);
    cluster.store(1).onRaftMessages([heartbeatFromTheFuture(regionId, older)]);
    await waitDroppedAsTombstone(cluster, 1, 1, "refused after a restart");
    assert.equal(holdsRegion(cluster, 1), false);

    // The same peer id from a newer membership: it was added again.
    cluster.store(1).onRaftMessages([heartbeatFromTheFuture(regionId, removed)]);
    assert.equal(await droppedAsTombstone(cluster, 1), 1, "the re-added peer id is not refused");
    await cluster.waitFor(
      "the re-added peer to be created",
      async () => (await cluster.counter(1, "store_raftstore_peers_created_total")) === 1,
    );
  } finally {
    await cluster.close();
  }
});

test("a removed peer that only reaches a tombstone is told to destroy itself", async () => {
  // No stale-peer check with pd within the test: only the tombstone's answer can remove the peer.
  const cluster = await StoreCluster.start({
    label: "tombstone answers",
    stores: 3,
    raftstore: { maxLeaderMissingMs: 600_000 },
  });
  try {
    const regionId = cluster.firstRegionId;
    await cluster.put("a", "1");
    await cluster.transferLeader(regionId, 0);
    const healStore2 = cluster.partition([[2], [0, 1]]);
    await cluster.removePeer(regionId, 2);
    await cluster.removePeer(regionId, 1);
    await cluster.waitFor("store 1 to destroy its peer", () => !holdsRegion(cluster, 1));
    assert.equal(holdsRegion(cluster, 2), true, "store 2 never heard of its removal");

    // Store 2's peer campaigns; only store 1, which holds a tombstone, hears it.
    cluster.partition([[2], [0]]);
    healStore2();
    await cluster.waitFor("store 2 to destroy its peer", () => !holdsRegion(cluster, 2));
    assert.equal(await persistedState(cluster, 2), raft_serverpb.PeerState.TOMBSTONE);
    assert.equal(await cluster.engineGet(2, "a"), undefined);
    assert.equal(await cluster.get("a"), "1");
  } finally {
    await cluster.close();
  }
});

test("a removed peer that only reaches the newer peer replacing the one it knew is told to destroy itself", async () => {
  const cluster = await StoreCluster.start({
    label: "replaced peer answers",
    stores: 3,
    raftstore: { maxLeaderMissingMs: 600_000 },
  });
  try {
    const regionId = cluster.firstRegionId;
    await cluster.put("a", "1");
    await cluster.transferLeader(regionId, 0);
    const healStore2 = cluster.partition([[2], [0, 1]]);
    await cluster.removePeer(regionId, 2);
    await cluster.removePeer(regionId, 1);
    await cluster.waitFor("store 1 to destroy its peer", () => !holdsRegion(cluster, 1));
    await cluster.addPeer(regionId, 1);

    // Store 2's peer campaigns to the peer id store 1 had before; only store 1 hears it.
    cluster.partition([[2], [0]]);
    healStore2();
    await cluster.waitFor("store 2 to destroy its peer", () => !holdsRegion(cluster, 2));
    assert.equal(await persistedState(cluster, 2), raft_serverpb.PeerState.TOMBSTONE);
    assert.equal(await cluster.get("a"), "1");
  } finally {
    await cluster.close();
  }
});
