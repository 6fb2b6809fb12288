import assert from "node:assert/strict";
import { test } from "node:test";
import { eraftpb, raft_serverpb } from "#proto";
import { SeededRandom } from "#runtime";
import { FIRST_REGION_ID, TestCluster, text } from "../testing/raftstore-cluster.ts";
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
    startKey: text(fields.startKey ?? ""),
    endKey: text(fields.endKey ?? ""),
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
  const cluster = await TestCluster.start({ storeCount: 3, seed: 7 });
  const recorded: Array<{ message: raft_serverpb.RaftMessage; to: bigint }> = [];
  const stopRecording = cluster.hub.addFilter((message, _from, to) => {
    if (recorded.length < 2_000) recorded.push({ message, to });
    return false;
  });
  try {
    for (let index = 0; index < 20; index++) await cluster.put(`k${index}`, `first-${index}`);
    stopRecording();
    await cluster.transferLeader(FIRST_REGION_ID, 2n);
    for (let index = 0; index < 20; index++) await cluster.put(`k${index}`, `second-${index}`);
    const random = new SeededRandom(11);
    random.shuffle(recorded);
    for (const { message, to } of recorded) cluster.store(to).onRaftMessages([message, message]);
    for (let index = 0; index < 20; index++) await cluster.put(`after-${index}`, `${index}`);
    for (let index = 0; index < 20; index++) assert.equal(await cluster.get(`k${index}`), `second-${index}`);
    for (const storeId of cluster.storeIds) {
      await cluster.waitFor(
        `store ${storeId} to converge`,
        async () => (await cluster.localGet(storeId, "after-19")) === "19",
      );
      assert.equal(await cluster.localGet(storeId, "k7"), "second-7");
    }
  } finally {
    await cluster.close();
  }
});

test("only a vote or a first heartbeat creates a peer for an unknown region", async () => {
  const cluster = await TestCluster.start({ storeCount: 2, initialStores: [1n] });
  try {
    await cluster.split("m");
    const store2 = cluster.store(2n);
    const from = { id: 500n, storeId: 1n };
    const to = { id: 501n, storeId: 2n };
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
        to: { id: 502n, storeId: 2n },
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
    const store1 = cluster.store(1n);
    store1.onRaftMessages([
      raftMessage({
        regionId: 90n,
        from: { id: 600n, storeId: 2n },
        to: { id: 601n, storeId: 1n },
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
  const cluster = await TestCluster.start({ storeCount: 3 });
  try {
    await cluster.transferLeader(FIRST_REGION_ID, 1n);
    const before = cluster.routeRegion(FIRST_REGION_ID).region;
    const removed = findPeerOnStore(before, 3n)!;
    await cluster.removePeer(FIRST_REGION_ID, removed);
    await cluster.waitFor("store 3 to destroy its peer", () => cluster.store(3n).regionCount === 0);
    const leaderPeer = findPeerOnStore(before, 1n)!;
    for (const type of [eraftpb.MessageType.HEARTBEAT, eraftpb.MessageType.REQUEST_VOTE]) {
      cluster.store(3n).onRaftMessages([
        raftMessage({
          regionId: FIRST_REGION_ID,
          from: leaderPeer,
          to: removed,
          type,
          confVer: before.regionEpoch!.confVer + 1n,
        }),
      ]);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(cluster.store(3n).regionCount, 0);
    await cluster.put("still", "fine");
    assert.equal(await cluster.get("still"), "fine");
  } finally {
    await cluster.close();
  }
});

test("a peer removed while cut off destroys itself once it hears it is stale", async () => {
  const cluster = await TestCluster.start({ storeCount: 4 });
  try {
    await cluster.transferLeader(FIRST_REGION_ID, 1n);
    const region = cluster.routeRegion(FIRST_REGION_ID).region;
    const heal = cluster.hub.partition([4n], [1n, 2n, 3n]);
    await cluster.removePeer(FIRST_REGION_ID, findPeerOnStore(region, 4n)!);
    await cluster.put("after-removal", "1");
    heal();
    // Store 4 never applied its removal; its campaigns reach members that tell it it is gone.
    await cluster.waitFor("the stale peer to be destroyed", () => cluster.store(4n).regionCount === 0);
    assert.equal(await cluster.engineGet(4n, "after-removal"), undefined);
  } finally {
    await cluster.close();
  }
});

test("a peer that nobody tells it was removed asks pd and destroys itself", async () => {
  const cluster = await TestCluster.start({ storeCount: 3, config: { maxLeaderMissingMs: 300 } });
  try {
    await cluster.transferLeader(FIRST_REGION_ID, 1n);
    const region = cluster.routeRegion(FIRST_REGION_ID).region;
    await cluster.stopStore(3n);
    const after = await cluster.removePeer(FIRST_REGION_ID, findPeerOnStore(region, 3n)!);
    cluster.pd.observe(after);
    // Store 3 comes back unable to reach the others: only pd can tell it.
    cluster.hub.partition([3n], [1n, 2n]);
    await cluster.startStore(3n);
    await cluster.waitFor("store 3 to destroy its stale peer", () => cluster.store(3n).regionCount === 0);
  } finally {
    await cluster.close();
  }
});
