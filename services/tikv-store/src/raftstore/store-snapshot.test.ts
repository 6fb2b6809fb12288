import assert from "node:assert/strict";
import { test } from "node:test";
import { eraftpb, metapb, raft_serverpb } from "#proto";
import { RAW_DATA_PREFIX } from "../engine/keys.ts";
import { CF_DEFAULT } from "../engine/kv-engine.ts";
import { FIRST_REGION_ID, TestCluster } from "../testing/raftstore-cluster.ts";
import { findPeerOnStore } from "./region-meta.ts";

const LOG_GC = { raftLogGcThreshold: 5, raftLogGcCountLimit: 20, raftLogGcTickMs: 50 };

test("a follower that fell behind the leader's log GC catches up by snapshot", async () => {
  const cluster = await TestCluster.start({ storeCount: 3, config: LOG_GC });
  let snapshotsSent = 0;
  cluster.hub.addFilter((message) => {
    if (message.message?.msgType === eraftpb.MessageType.SNAPSHOT) snapshotsSent++;
    return false;
  });
  try {
    await cluster.put("first", "1");
    await cluster.transferLeader(FIRST_REGION_ID, 1n);
    await cluster.stopStore(3n);
    for (let index = 0; index < 60; index++) await cluster.put(`while-down-${index}`, `${index}`);
    const leader = cluster.store(1n);
    await cluster.waitFor("the leader's log to be truncated", async () => {
      const first = await leader.engines.raftLogStore.firstStoredIndex(FIRST_REGION_ID);
      return first !== undefined && first > 30;
    });
    await cluster.startStore(3n);
    await cluster.waitFor(
      "store 3 to catch up",
      async () => (await cluster.localGet(3n, "while-down-59")) === "59",
    );
    assert.ok(snapshotsSent > 0, "the follower was sent a snapshot");
    assert.equal(await cluster.localGet(3n, "first"), "1");
    for (let index = 0; index < 60; index += 7) {
      assert.equal(await cluster.localGet(3n, `while-down-${index}`), `${index}`);
    }
    await cluster.put("after", "snapshot");
    await cluster.waitFor(
      "store 3 to follow the log again",
      async () => (await cluster.localGet(3n, "after")) === "snapshot",
    );
    // The snapshot's state survives a restart of the follower that installed it.
    await cluster.restartStore(3n);
    assert.equal(await cluster.localGet(3n, "while-down-42"), "42");
  } finally {
    await cluster.close();
  }
});

test("log GC keeps every replica's data and survives restarts", async () => {
  const cluster = await TestCluster.start({ storeCount: 3, config: LOG_GC });
  try {
    for (let index = 0; index < 80; index++) await cluster.put(`gc-${index}`, `${index}`);
    const leader = await cluster.waitForLeader(FIRST_REGION_ID);
    await cluster.waitFor("the log to be truncated", async () => {
      const first = await leader.engines.raftLogStore.firstStoredIndex(FIRST_REGION_ID);
      return first !== undefined && first > 40;
    });
    for (const storeId of cluster.storeIds) await cluster.stopStore(storeId);
    for (const storeId of cluster.storeIds) await cluster.startStore(storeId);
    for (let index = 0; index < 80; index += 9) assert.equal(await cluster.get(`gc-${index}`), `${index}`);
  } finally {
    await cluster.close();
  }
});

async function snapshotEvents(cluster: TestCluster, storeId: bigint, event: string): Promise<number> {
  const metric = cluster.metrics(storeId).getSingleMetric(`s${storeId}_raftstore_snapshots_total`);
  const values = (await metric?.get())?.values ?? [];
  return values.filter((sample) => sample.labels.event === event).reduce((sum, { value }) => sum + value, 0);
}

/** Makes store 1 the leader with store 3 behind its log GC, so store 3 needs a snapshot when it returns. */
async function leaveStore3Behind(cluster: TestCluster): Promise<void> {
  await cluster.put("first", "1");
  await cluster.transferLeader(FIRST_REGION_ID, 1n);
  await cluster.stopStore(3n);
  for (let index = 0; index < 40; index++) await cluster.put(`while-down-${index}`, `${index}`);
  const leader = cluster.store(1n);
  await cluster.waitFor("the leader's log to be truncated", async () => {
    const first = await leader.engines.raftLogStore.firstStoredIndex(FIRST_REGION_ID);
    return first !== undefined && first > 20;
  });
}

test("a snapshot the receiver finds corrupt is reported failed by its sender, and a resend succeeds", async () => {
  const cluster = await TestCluster.start({ storeCount: 3, config: LOG_GC });
  try {
    await leaveStore3Behind(cluster);
    const follower = await cluster.startStore(3n);
    let corrupted = 0;
    // The first snapshot loses a byte on the way: the receiver's verification must refuse it.
    cluster.hub.attach(3n, {
      onRaftMessages: (messages) => follower.onRaftMessages(messages),
      reportUnreachable: (regionId, toPeerId) => follower.reportUnreachable(regionId, toPeerId),
      onSnapshotReceived: (message, data) => {
        const chunks = [...(data as Iterable<Uint8Array>)];
        if (corrupted === 0) {
          corrupted++;
          const last = chunks[chunks.length - 1]!;
          chunks[chunks.length - 1] = last.subarray(0, last.length - 1);
        }
        return follower.onSnapshotReceived(message, chunks);
      },
    });
    await cluster.waitFor(
      "store 3 to catch up",
      async () => (await cluster.localGet(3n, "while-down-39")) === "39",
    );
    assert.equal(corrupted, 1);
    assert.ok((await snapshotEvents(cluster, 1n, "send_failed")) >= 1, "the sender saw the failure");
    assert.ok((await snapshotEvents(cluster, 3n, "receive_failed")) >= 1);
    assert.equal(await cluster.localGet(3n, "first"), "1");
  } finally {
    await cluster.close();
  }
});

test("a snapshot is read from its pinned view once per send", async () => {
  const cluster = await TestCluster.start({ storeCount: 3, config: LOG_GC });
  try {
    await leaveStore3Behind(cluster);
    const kvEngine = cluster.store(1n).engines.kvEngine;
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
    cluster.hub.addFilter((message) => {
      if (message.message?.msgType === eraftpb.MessageType.SNAPSHOT) sends++;
      return false;
    });
    await cluster.startStore(3n);
    await cluster.waitFor(
      "store 3 to catch up",
      async () => (await cluster.localGet(3n, "while-down-39")) === "39",
    );
    assert.ok(sends > 0);
    assert.equal(passes, sends, "reads of the region per snapshot sent");
  } finally {
    await cluster.close();
  }
});

test("a snapshot generated before a learner was added is not sent to that learner", async () => {
  const cluster = await TestCluster.start({ storeCount: 3, initialStores: [1n] });
  try {
    await cluster.put("a", "1");
    const kvEngine = cluster.store(1n).engines.kvEngine;
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
    const learner = (storeId: bigint) => ({
      id: cluster.pd.allocId(),
      storeId,
      role: metapb.PeerRole.LEARNER,
    });
    const strangers: bigint[] = [];
    cluster.hub.addFilter((message) => {
      const snapshot = message.message?.snapshot;
      if (message.message?.msgType !== eraftpb.MessageType.SNAPSHOT || snapshot === undefined) return false;
      const region = raft_serverpb.RaftSnapshotData.decode(snapshot.data).region;
      if (!region?.peers.some((peer) => peer.id === message.toPeer?.id)) strangers.push(message.toPeer!.id);
      return false;
    });
    await cluster.changePeer(FIRST_REGION_ID, { type: "add-learner", peer: learner(2n) });
    await reached;
    await cluster.changePeer(FIRST_REGION_ID, { type: "add-learner", peer: learner(3n) });
    releaseGeneration();
    for (const storeId of [2n, 3n]) {
      await cluster.waitFor(
        `the learner on store ${storeId} to receive the data`,
        async () => (await cluster.localGet(storeId, "a")) === "1",
      );
    }
    assert.deepEqual(strangers, [], "snapshots sent to peers they do not name");
  } finally {
    await cluster.close();
  }
});

test("a peer that missed a split drops the data outside the smaller region its snapshot brings", async () => {
  const cluster = await TestCluster.start({ storeCount: 3, config: LOG_GC });
  try {
    await cluster.put("b", "left");
    await cluster.put("x", "right");
    await cluster.transferLeader(FIRST_REGION_ID, 1n);
    const healStore3 = cluster.hub.partition([3n], [1n, 2n]);
    const [, right] = await cluster.split("m");
    await cluster.waitForLeader(right!.id);
    // The right region leaves store 3, which never learns that it had a peer of it: on store 3 nobody
    // owns [m, +inf) once its peer of region 1 shrinks.
    await cluster.retry("remove store 3's peer of the right region", async () =>
      cluster.routeRegion(right!.id).store.changePeer(right!.id, {
        type: "remove",
        peer: findPeerOnStore(cluster.routeRegion(right!.id).region, 3n)!,
      }),
    );
    for (let index = 0; index < 40; index++) await cluster.put(`a-${index}`, `${index}`);
    const leader = cluster.store(1n);
    await cluster.waitFor("region 1's log to be truncated past the split", async () => {
      const first = await leader.engines.raftLogStore.firstStoredIndex(FIRST_REGION_ID);
      return first !== undefined && first > 30;
    });
    healStore3();
    await cluster.waitFor(
      "store 3 to install region 1's snapshot",
      async () =>
        cluster.store(3n).region(FIRST_REGION_ID)?.endKey.length === 1 &&
        (await cluster.localGet(3n, "a-39")) === "39",
    );
    assert.equal(await cluster.engineGet(3n, "b"), "left");
    assert.equal(await cluster.engineGet(3n, "x"), undefined, "data of the range store 3 gave up");
    assert.equal(await cluster.get("x"), "right");
  } finally {
    await cluster.close();
  }
});

test("other regions keep applying on a store while it installs a snapshot", async () => {
  const cluster = await TestCluster.start({ storeCount: 3, config: LOG_GC });
  try {
    // Region 1 takes the writes store 3 misses ("while-down-…"); the right region [x, +inf) keeps going.
    const [, right] = await cluster.split("x");
    await cluster.put("y", "1");
    await cluster.waitFor("store 3 to hold y", async () => (await cluster.localGet(3n, "y")) === "1");
    await leaveStore3Behind(cluster);
    const follower = await cluster.startStore(3n);
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
      "store 3 to apply the other region's write meanwhile",
      async () => (await cluster.localGet(3n, "y")) === "2",
      5_000,
    );
    assert.equal(cluster.store(3n).region(right!.id)?.id, right!.id);
    releaseInstall();
    await cluster.waitFor(
      "store 3 to install the snapshot",
      async () => (await cluster.localGet(3n, "while-down-39")) === "39",
    );
    await cluster.restartStore(3n);
    assert.equal(await cluster.localGet(3n, "while-down-39"), "39");
  } finally {
    await cluster.close();
  }
});

test("the store loop runs its turns through the injected scheduler", async () => {
  const turns = new Map<bigint, number>();
  const cluster = await TestCluster.start({
    storeCount: 3,
    scheduleTurn: (storeId) => (turn) => {
      turns.set(storeId, (turns.get(storeId) ?? 0) + 1);
      setImmediate(turn);
    },
  });
  try {
    await cluster.put("a", "1");
    assert.equal(await cluster.get("a"), "1");
    for (const storeId of cluster.storeIds) assert.ok((turns.get(storeId) ?? 0) > 0, `store ${storeId}`);
  } finally {
    await cluster.close();
  }
});
