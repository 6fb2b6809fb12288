/**
 * Tombstones of destroyed peers: they refuse messages meant for older peers even after a restart, and tell
 * a removed peer that still campaigns to destroy itself.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { metapb, raft_serverpb } from "#proto";
import { MessageType } from "#raft";
import { FIRST_REGION_ID, TestCluster } from "../testing/raftstore-cluster.ts";
import { messageToWire } from "./raft-message.ts";
import { findPeerOnStore } from "./region-meta.ts";

function peerOn(cluster: TestCluster, storeId: bigint): metapb.Peer {
  const peer = findPeerOnStore(cluster.routeRegion(FIRST_REGION_ID).region, storeId);
  assert.ok(peer, `region 1 has no peer on store ${storeId}`);
  return peer;
}

function holdsRegion(cluster: TestCluster, storeId: bigint): boolean {
  return cluster
    .store(storeId)
    .peers()
    .some((peer) => peer.regionId === FIRST_REGION_ID);
}

async function persistedState(cluster: TestCluster, storeId: bigint) {
  const regions = await cluster.store(storeId).engines.kvEngine.loadRegions();
  return regions.find((region) => region.regionId === FIRST_REGION_ID)?.regionState.state;
}

async function counter(cluster: TestCluster, storeId: bigint, name: string, reason?: string) {
  const metric = cluster.metrics(storeId).getSingleMetric(`s${storeId}_raftstore_${name}`);
  const values = (await metric?.get())?.values ?? [];
  return values
    .filter((sample) => reason === undefined || sample.labels.reason === reason)
    .reduce((sum, { value }) => sum + value, 0);
}

const droppedAsTombstone = (cluster: TestCluster, storeId: bigint) =>
  counter(cluster, storeId, "raft_messages_dropped_total", "tombstone");

/**
 * A leader's first heartbeat to `to`, from a membership newer than any the cluster had. The leader is on a
 * store that does not exist, so a peer the message creates disturbs nobody when it answers.
 */
const FUTURE_LEADER = metapb.Peer.fromPartial({ id: 999_999n, storeId: 99n });

function heartbeatFromTheFuture(to: metapb.Peer): raft_serverpb.RaftMessage {
  const from = FUTURE_LEADER;
  return raft_serverpb.RaftMessage.fromPartial({
    regionId: FIRST_REGION_ID,
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
  const cluster = await TestCluster.start({ storeCount: 3 });
  try {
    await cluster.put("a", "1");
    await cluster.transferLeader(FIRST_REGION_ID, 1n);
    const removed = peerOn(cluster, 2n);
    await cluster.removePeer(FIRST_REGION_ID, removed);
    await cluster.waitFor("store 2 to destroy its peer", () => !holdsRegion(cluster, 2n));

    const older = { ...removed, id: removed.id - 1n };
    cluster.store(2n).onRaftMessages([heartbeatFromTheFuture(older)]);
    assert.equal(await droppedAsTombstone(cluster, 2n), 1, "refused before a restart");
    await cluster.restartStore(2n);
    cluster.store(2n).onRaftMessages([heartbeatFromTheFuture(older)]);
    assert.equal(await droppedAsTombstone(cluster, 2n), 1, "refused after a restart");
    assert.equal(holdsRegion(cluster, 2n), false);

    // The same peer id from a newer membership: it was added again.
    cluster.store(2n).onRaftMessages([heartbeatFromTheFuture(removed)]);
    assert.equal(await droppedAsTombstone(cluster, 2n), 1, "the re-added peer id is not refused");
    await cluster.waitFor(
      "the re-added peer to be created",
      async () => (await counter(cluster, 2n, "peers_created_total")) === 1,
    );
  } finally {
    await cluster.close();
  }
});

test("a removed peer that only reaches a tombstone is told to destroy itself", async () => {
  // No stale-peer check with pd within the test: only the tombstone's answer can remove the peer.
  const cluster = await TestCluster.start({ storeCount: 3, config: { maxLeaderMissingMs: 600_000 } });
  try {
    await cluster.put("a", "1");
    await cluster.transferLeader(FIRST_REGION_ID, 1n);
    const healStore3 = cluster.hub.partition([3n], [1n, 2n]);
    await cluster.removePeer(FIRST_REGION_ID, peerOn(cluster, 3n));
    await cluster.removePeer(FIRST_REGION_ID, peerOn(cluster, 2n));
    await cluster.waitFor("store 2 to destroy its peer", () => !holdsRegion(cluster, 2n));
    assert.equal(holdsRegion(cluster, 3n), true, "store 3 never heard of its removal");

    // Store 3's peer campaigns; only store 2, which holds a tombstone, hears it.
    cluster.hub.partition([3n], [1n]);
    healStore3();
    await cluster.waitFor("store 3 to destroy its peer", () => !holdsRegion(cluster, 3n));
    assert.equal(await persistedState(cluster, 3n), raft_serverpb.PeerState.TOMBSTONE);
    assert.equal(await cluster.engineGet(3n, "a"), undefined);
    assert.equal(await cluster.get("a"), "1");
  } finally {
    await cluster.close();
  }
});

test("a removed peer that only reaches the newer peer replacing the one it knew is told to destroy itself", async () => {
  const cluster = await TestCluster.start({ storeCount: 3, config: { maxLeaderMissingMs: 600_000 } });
  try {
    await cluster.put("a", "1");
    await cluster.transferLeader(FIRST_REGION_ID, 1n);
    const healStore3 = cluster.hub.partition([3n], [1n, 2n]);
    await cluster.removePeer(FIRST_REGION_ID, peerOn(cluster, 3n));
    await cluster.removePeer(FIRST_REGION_ID, peerOn(cluster, 2n));
    await cluster.waitFor("store 2 to destroy its peer", () => !holdsRegion(cluster, 2n));
    await cluster.addPeer(FIRST_REGION_ID, 2n);

    // Store 3's peer campaigns to the peer id store 2 had before; only store 2 hears it.
    cluster.hub.partition([3n], [1n]);
    healStore3();
    await cluster.waitFor("store 3 to destroy its peer", () => !holdsRegion(cluster, 3n));
    assert.equal(await persistedState(cluster, 3n), raft_serverpb.PeerState.TOMBSTONE);
    assert.equal(await cluster.get("a"), "1");
  } finally {
    await cluster.close();
  }
});
