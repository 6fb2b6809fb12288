import assert from "node:assert/strict";
import { test } from "node:test";
import { eraftpb, raft_serverpb } from "#proto";
import { SeededRandom } from "#runtime";
import { bytes } from "../testing/bytes.ts";
import { StoreCluster } from "../testing/cluster/store-cluster.ts";
import { watchSends } from "../testing/cluster/watch-sends.ts";
import { findPeerOnStore } from "./region-meta.ts";

function raftMessage(fields: {
  regionId: bigint;
  from: { id: bigint; storeId: bigint };
  to: { id: bigint; storeId: bigint };
  type: eraftpb.MessageType;
  term?: bigint;
  commit?: bigint;
  confVer?: bigint;
  startKey?: string;
  endKey?: string;
}): raft_serverpb.RaftMessage {
  return raft_serverpb.RaftMessage.fromPartial({
    regionId: fields.regionId,
    fromPeer: fields.from,
    toPeer: fields.to,
    regionEpoch: { confVer: fields.confVer ?? 1n, version: 1n },
    startKey: bytes(fields.startKey ?? ""),
    endKey: bytes(fields.endKey ?? ""),
    message: {
      msgType: fields.type,
      from: fields.from.id,
      to: fields.to.id,
      term: fields.term ?? 7n,
      commit: fields.commit ?? 0n,
      index: 5n,
      logTerm: 5n,
    },
  });
}

test("old and duplicated raft messages replayed later change nothing", async () => {
  const cluster = await StoreCluster.start({ label: "replayed messages", stores: 3, seed: 7 });
  const recorded: raft_serverpb.RaftMessage[] = [];
  const stopRecording = cluster.addFilter(
    watchSends("record", (message) => {
      if (recorded.length < 2_000) recorded.push(message);
    }),
  );
  try {
    for (let index = 0; index < 20; index++) await cluster.put(`k${index}`, `first-${index}`);
    stopRecording();
    await cluster.transferLeader(cluster.firstRegionId, 1);
    for (let index = 0; index < 20; index++) await cluster.put(`k${index}`, `second-${index}`);
    const random = new SeededRandom(11);
    random.shuffle(recorded);
    for (const message of recorded) {
      cluster.store(cluster.indexOf(message.toPeer!.storeId)).onRaftMessages([message, message]);
    }
    for (let index = 0; index < 20; index++) await cluster.put(`after-${index}`, `${index}`);
    for (let index = 0; index < 20; index++) assert.equal(await cluster.get(`k${index}`), `second-${index}`);
    for (const index of cluster.indexes) {
      await cluster.waitFor(
        `store ${index} to converge`,
        async () => (await cluster.localGet(index, "after-19")) === "19",
      );
      assert.equal(await cluster.localGet(index, "k7"), "second-7");
    }
  } finally {
    await cluster.close();
  }
});

test("only a vote or a first heartbeat creates a peer for an unknown region", async () => {
  const cluster = await StoreCluster.start({ label: "peer creation", stores: 2, replicas: 1 });
  try {
    await cluster.split(bytes("m"));
    const store2 = cluster.store(1);
    const from = { id: 500n, storeId: cluster.storeId(0) };
    const to = { id: 501n, storeId: cluster.storeId(1) };
    store2.onRaftMessages([
      raftMessage({ regionId: 77n, from, to, type: eraftpb.MessageType.APPEND, startKey: "x", endKey: "y" }),
    ]);
    store2.onRaftMessages([
      raftMessage({
        regionId: 78n,
        from,
        to,
        type: eraftpb.MessageType.HEARTBEAT,
        commit: 9n,
        startKey: "x",
        endKey: "y",
      }),
    ]);
    store2.onRaftMessages([
      raftMessage({
        regionId: 79n,
        from,
        to,
        type: eraftpb.MessageType.HEARTBEAT,
        commit: 0n,
        startKey: "x",
        endKey: "y",
      }),
    ]);
    store2.onRaftMessages([
      raftMessage({
        regionId: 80n,
        from,
        to: { id: 502n, storeId: cluster.storeId(1) },
        type: eraftpb.MessageType.REQUEST_VOTE,
        startKey: "p",
        endKey: "q",
      }),
    ]);
    // Addressed to another store: never delivered here.
    store2.onRaftMessages([
      raftMessage({
        regionId: 81n,
        from,
        to: { id: 503n, storeId: 9n },
        type: eraftpb.MessageType.REQUEST_VOTE,
      }),
    ]);
    await cluster.waitFor("the valid first messages to create peers", () => store2.regionCount === 2);
    assert.deepEqual(
      store2
        .peers()
        .map((peer) => peer.regionId)
        .sort(),
      [79n, 80n],
    );
    // A region whose range overlaps one this store holds is not created, even from a vote.
    const store1 = cluster.store(0);
    store1.onRaftMessages([
      raftMessage({
        regionId: 90n,
        from: { id: 600n, storeId: cluster.storeId(1) },
        to: { id: 601n, storeId: cluster.storeId(0) },
        type: eraftpb.MessageType.REQUEST_VOTE,
        startKey: "c",
        endKey: "d",
      }),
    ]);
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.ok(store1.peers().every((peer) => peer.regionId !== 90n));
  } finally {
    await cluster.close();
  }
});

test("a tombstoned peer is not brought back by messages from its old membership", async () => {
  const cluster = await StoreCluster.start({ label: "tombstoned peer stays", stores: 3 });
  try {
    const regionId = cluster.firstRegionId;
    await cluster.transferLeader(regionId, 0);
    const before = cluster.routeRegion(regionId).region;
    const removed = findPeerOnStore(before, cluster.storeId(2))!;
    await cluster.removePeer(regionId, 2);
    await cluster.waitFor("store 2 to destroy its peer", () => cluster.store(2).regionCount === 0);
    const leaderPeer = findPeerOnStore(before, cluster.storeId(0))!;
    for (const type of [eraftpb.MessageType.HEARTBEAT, eraftpb.MessageType.REQUEST_VOTE]) {
      cluster.store(2).onRaftMessages([
        raftMessage({
          regionId,
          from: leaderPeer,
          to: removed,
          type,
          confVer: before.regionEpoch!.confVer + 1n,
        }),
      ]);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(cluster.store(2).regionCount, 0);
    await cluster.put("still", "fine");
    assert.equal(await cluster.get("still"), "fine");
  } finally {
    await cluster.close();
  }
});

test("a peer removed while cut off destroys itself once it hears it is stale", async () => {
  const cluster = await StoreCluster.start({ label: "stale peer destroyed", stores: 4, replicas: 4 });
  try {
    await cluster.transferLeader(cluster.firstRegionId, 0);
    const heal = cluster.partition([[3], [0, 1, 2]]);
    await cluster.removePeer(cluster.firstRegionId, 3);
    await cluster.put("after-removal", "1");
    heal();
    // Store 3 never applied its removal; its campaigns reach members that tell it it is gone.
    await cluster.waitFor("the stale peer to be destroyed", () => cluster.store(3).regionCount === 0);
    assert.equal(await cluster.engineGet(3, "after-removal"), undefined);
  } finally {
    await cluster.close();
  }
});

test("a peer that nobody tells it was removed asks pd and destroys itself", async () => {
  const cluster = await StoreCluster.start({
    label: "pd tells a stale peer",
    stores: 3,
    raftstore: { maxLeaderMissingMs: 300 },
  });
  try {
    await cluster.transferLeader(cluster.firstRegionId, 0);
    await cluster.stop(2);
    const after = await cluster.removePeer(cluster.firstRegionId, 2);
    cluster.fakePd.observe(after);
    // Store 2 comes back unable to reach the others: only pd can tell it.
    cluster.partition([[2], [0, 1]]);
    await cluster.restart(2);
    await cluster.waitFor("store 2 to destroy its stale peer", () => cluster.store(2).regionCount === 0);
  } finally {
    await cluster.close();
  }
});
