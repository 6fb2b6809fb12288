import assert from "node:assert/strict";
import { test } from "node:test";
import { eraftpb, metapb, raft_serverpb } from "#proto";
import { RAW_DATA_PREFIX } from "../engine/keys.ts";
import { CF_DEFAULT } from "../engine/kv-engine.ts";
import { bytes } from "../testing/bytes.ts";
import { StoreCluster } from "../testing/cluster/store-cluster.ts";
import { watchSends } from "../testing/cluster/watch-sends.ts";
import { findPeerOnStore } from "./region-meta.ts";

const LOG_GC = { raftLogGcThreshold: 5, raftLogGcCountLimit: 20, raftLogGcTickMs: 50 };

test("a follower that fell behind the leader's log GC catches up by snapshot", async () => {
  const cluster = await StoreCluster.start({ label: "snapshot catch-up", stores: 3, raftstore: LOG_GC });
  let snapshotsSent = 0;
  cluster.addFilter(
    watchSends("count snapshots", (message) => {
      if (message.message?.msgType === eraftpb.MessageType.SNAPSHOT) snapshotsSent++;
    }),
  );
  try {
    const regionId = cluster.firstRegionId;
    await cluster.put("first", "1");
    await cluster.transferLeader(regionId, 0);
    await cluster.stop(2);
    for (let index = 0; index < 60; index++) await cluster.put(`while-down-${index}`, `${index}`);
    const leader = cluster.store(0);
    await cluster.waitFor("the leader's log to be truncated", async () => {
      const first = await leader.engines.raftLogStore.firstStoredIndex(regionId);
      return first !== undefined && first > 30;
    });
    await cluster.restart(2);
    await cluster.waitFor(
      "store 2 to catch up",
      async () => (await cluster.localGet(2, "while-down-59")) === "59",
    );
    assert.ok(snapshotsSent > 0, "the follower was sent a snapshot");
    assert.equal(await cluster.localGet(2, "first"), "1");
    for (let index = 0; index < 60; index += 7) {
      assert.equal(await cluster.localGet(2, `while-down-${index}`), `${index}`);
    }
    await cluster.put("after", "snapshot");
    await cluster.waitFor(
      "store 2 to follow the log again",
      async () => (await cluster.localGet(2, "after")) === "snapshot",
    );
    // The snapshot's state survives a restart of the follower that installed it.
    await cluster.stop(2);
    await cluster.restart(2);
    assert.equal(await cluster.localGet(2, "while-down-42"), "42");
  } finally {
    await cluster.close();
  }
});

test("log GC keeps every replica's data and survives restarts", async () => {
  const cluster = await StoreCluster.start({ label: "log GC restarts", stores: 3, raftstore: LOG_GC });
  try {
    for (let index = 0; index < 80; index++) await cluster.put(`gc-${index}`, `${index}`);
    const { store: leader } = await cluster.waitLeaderOfRegion(cluster.firstRegionId);
    await cluster.waitFor("the log to be truncated", async () => {
      const first = await leader.engines.raftLogStore.firstStoredIndex(cluster.firstRegionId);
      return first !== undefined && first > 40;
    });
    for (const index of cluster.indexes) await cluster.stop(index);
    for (const index of cluster.indexes) await cluster.restart(index);
    for (let index = 0; index < 80; index += 9) assert.equal(await cluster.get(`gc-${index}`), `${index}`);
  } finally {
    await cluster.close();
  }
});

function snapshotEvents(cluster: StoreCluster, index: number, event: string): Promise<number> {
  return cluster.counter(index, "store_raftstore_snapshots_total", { event });
}

/** Makes store 0 the leader with store 2 stopped behind its log GC, so store 2 needs a snapshot when it returns. */
async function leaveStore2Behind(cluster: StoreCluster): Promise<void> {
  await cluster.put("first", "1");
  await cluster.transferLeader(cluster.firstRegionId, 0);
  await cluster.stop(2);
  for (let index = 0; index < 40; index++) await cluster.put(`while-down-${index}`, `${index}`);
  const leader = cluster.store(0);
  await cluster.waitFor("the leader's log to be truncated", async () => {
    const first = await leader.engines.raftLogStore.firstStoredIndex(cluster.firstRegionId);
    return first !== undefined && first > 20;
  });
}

test("a snapshot the receiver finds corrupt is reported failed by its sender, and a resend succeeds", async () => {
  const cluster = await StoreCluster.start({ label: "corrupt snapshot", stores: 3, raftstore: LOG_GC });
  try {
    await leaveStore2Behind(cluster);
    const follower = await cluster.restart(2);
    let corrupted = 0;
    // The first snapshot loses a byte on the way: the receiver's verification must refuse it. The local
    // transport hands a snapshot to the store's own method, so wrapping that method intercepts it.
    const receive = follower.onSnapshotReceived.bind(follower);
    follower.onSnapshotReceived = (message, data) => {
      const chunks = [...(data as Iterable<Uint8Array>)];
      if (corrupted === 0) {
        corrupted++;
        const last = chunks[chunks.length - 1]!;
        chunks[chunks.length - 1] = last.subarray(0, last.length - 1);
      }
      return receive(message, chunks);
    };
    await cluster.waitFor(
      "store 2 to catch up",
      async () => (await cluster.localGet(2, "while-down-39")) === "39",
    );
    assert.equal(corrupted, 1);
    assert.ok((await snapshotEvents(cluster, 0, "send_failed")) >= 1, "the sender saw the failure");
    assert.ok((await snapshotEvents(cluster, 2, "receive_failed")) >= 1);
    assert.equal(await cluster.localGet(2, "first"), "1");
  } finally {
    await cluster.close();
  }
});

test("a snapshot is read from its pinned view once per send", async () => {
  const cluster = await StoreCluster.start({ label: "snapshot pinned view", stores: 3, raftstore: LOG_GC });
  try {
    await leaveStore2Behind(cluster);
    const kvEngine = cluster.store(0).engines.kvEngine;
    const pinView = kvEngine.snapshot.bind(kvEngine);
    let passes = 0;
    kvEngine.snapshot = () => {
      const view = pinView();
      const iterate = view.iterate.bind(view);
      view.iterate = (columnFamily, options) => {
        // Every pass over the region starts with its raw keys in CF default.
        const raw = options?.gte !== undefined && Buffer.from(options.gte).equals(RAW_DATA_PREFIX);
        if (columnFamily === CF_DEFAULT && raw) passes++;
        return iterate(columnFamily, options);
      };
      return view;
    };
    let sends = 0;
    cluster.addFilter(
      watchSends("count snapshots", (message) => {
        if (message.message?.msgType === eraftpb.MessageType.SNAPSHOT) sends++;
      }),
    );
    await cluster.restart(2);
    await cluster.waitFor(
      "store 2 to catch up",
      async () => (await cluster.localGet(2, "while-down-39")) === "39",
    );
    assert.ok(sends > 0);
    assert.equal(passes, sends, "reads of the region per snapshot sent");
  } finally {
    await cluster.close();
  }
});

test("a snapshot generated before a learner was added is not sent to that learner", async () => {
  const cluster = await StoreCluster.start({ label: "snapshot before learner", stores: 3, replicas: 1 });
  try {
    await cluster.put("a", "1");
    const kvEngine = cluster.store(0).engines.kvEngine;
    const pinView = kvEngine.snapshot.bind(kvEngine);
    let releaseGeneration!: () => void;
    const generationHeld = new Promise<void>((resolve) => (releaseGeneration = resolve));
    let generationReached!: () => void;
    const reached = new Promise<void>((resolve) => (generationReached = resolve));
    let hold = true;
    // The first snapshot's view is pinned at once but its region meta is read only after the release, so a
    // conf change applies while it is being generated.
    kvEngine.snapshot = () => {
      const view = pinView();
      if (!hold) return view;
      hold = false;
      const get = view.get.bind(view);
      view.get = async (columnFamily, key) => {
        generationReached();
        await generationHeld;
        return get(columnFamily, key);
      };
      return view;
    };
    const learner = async (index: number) => ({
      id: await cluster.allocId(),
      storeId: cluster.storeId(index),
      role: metapb.PeerRole.LEARNER,
    });
    const strangers: bigint[] = [];
    cluster.addFilter(
      watchSends("snapshots to peers they do not name", (message) => {
        const snapshot = message.message?.snapshot;
        if (message.message?.msgType !== eraftpb.MessageType.SNAPSHOT || snapshot === undefined) return;
        const region = raft_serverpb.RaftSnapshotData.decode(snapshot.data).region;
        if (!region?.peers.some((peer) => peer.id === message.toPeer?.id)) strangers.push(message.toPeer!.id);
      }),
    );
    await cluster.changePeer(cluster.firstRegionId, { type: "add-learner", peer: await learner(1) });
    await reached;
    await cluster.changePeer(cluster.firstRegionId, { type: "add-learner", peer: await learner(2) });
    releaseGeneration();
    for (const index of [1, 2]) {
      await cluster.waitFor(
        `the learner on store ${index} to receive the data`,
        async () => (await cluster.localGet(index, "a")) === "1",
      );
    }
    assert.deepEqual(strangers, [], "snapshots sent to peers they do not name");
  } finally {
    await cluster.close();
  }
});

test("a peer that missed a split drops the data outside the smaller region its snapshot brings", async () => {
  const cluster = await StoreCluster.start({ label: "missed split", stores: 3, raftstore: LOG_GC });
  try {
    const regionId = cluster.firstRegionId;
    await cluster.put("b", "left");
    await cluster.put("x", "right");
    await cluster.transferLeader(regionId, 0);
    const healStore2 = cluster.partition([[2], [0, 1]]);
    const [, right] = await cluster.split(bytes("m"));
    await cluster.waitLeaderOfRegion(right.id);
    // The right region leaves store 2, which never learns that it had a peer of it: on store 2 nobody
    // owns [m, +inf) once its peer of the first region shrinks.
    await cluster.retry("remove store 2's peer of the right region", async () =>
      cluster.routeRegion(right.id).store.changePeer(right.id, {
        type: "remove",
        peer: findPeerOnStore(cluster.routeRegion(right.id).region, cluster.storeId(2))!,
      }),
    );
    for (let index = 0; index < 40; index++) await cluster.put(`a-${index}`, `${index}`);
    const leader = cluster.store(0);
    await cluster.waitFor("the first region's log to be truncated past the split", async () => {
      const first = await leader.engines.raftLogStore.firstStoredIndex(regionId);
      return first !== undefined && first > 30;
    });
    healStore2();
    await cluster.waitFor(
      "store 2 to install the first region's snapshot",
      async () =>
        cluster.store(2).region(regionId)?.endKey.length === 1 &&
        (await cluster.localGet(2, "a-39")) === "39",
    );
    assert.equal(await cluster.engineGet(2, "b"), "left");
    assert.equal(await cluster.engineGet(2, "x"), undefined, "data of the range store 2 gave up");
    assert.equal(await cluster.get("x"), "right");
  } finally {
    await cluster.close();
  }
});

test("other regions keep applying on a store while it installs a snapshot", async () => {
  const cluster = await StoreCluster.start({ label: "apply during install", stores: 3, raftstore: LOG_GC });
  try {
    // The first region takes the writes store 2 misses ("while-down-…"); the right region [x, +inf) keeps going.
    const [, right] = await cluster.split(bytes("x"));
    await cluster.put("y", "1");
    await cluster.waitFor("store 2 to hold y", async () => (await cluster.localGet(2, "y")) === "1");
    await leaveStore2Behind(cluster);
    const follower = await cluster.restart(2);
    // The install stalls at its first read of the staged snapshot until released.
    const snapshotStore = follower.engines.snapshotStore;
    const readStaged = snapshotStore.read.bind(snapshotStore);
    let releaseInstall!: () => void;
    const installHeld = new Promise<void>((resolve) => (releaseInstall = resolve));
    let installReached!: () => void;
    const reached = new Promise<void>((resolve) => (installReached = resolve));
    snapshotStore.read = (key) =>
      (async function* () {
        installReached();
        await installHeld;
        yield* readStaged(key);
      })();
    await reached;
    await cluster.put("y", "2");
    await cluster.waitFor(
      "store 2 to apply the other region's write meanwhile",
      async () => (await cluster.localGet(2, "y")) === "2",
      5_000,
    );
    assert.equal(cluster.store(2).region(right.id)?.id, right.id);
    releaseInstall();
    await cluster.waitFor(
      "store 2 to install the snapshot",
      async () => (await cluster.localGet(2, "while-down-39")) === "39",
    );
    await cluster.stop(2);
    await cluster.restart(2);
    assert.equal(await cluster.localGet(2, "while-down-39"), "39");
  } finally {
    await cluster.close();
  }
});

test("the store loop runs its turns through the injected scheduler", async () => {
  const turns = new Map<bigint, number>();
  const cluster = await StoreCluster.start({
    label: "injected turn scheduler",
    stores: 3,
    scheduleTurn: (storeId) => (turn) => {
      turns.set(storeId, (turns.get(storeId) ?? 0) + 1);
      setImmediate(turn);
    },
  });
  try {
    await cluster.put("a", "1");
    assert.equal(await cluster.get("a"), "1");
    for (const index of cluster.indexes) {
      assert.ok((turns.get(cluster.storeId(index)) ?? 0) > 0, `store ${index}`);
    }
  } finally {
    await cluster.close();
  }
});
