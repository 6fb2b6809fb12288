import assert from "node:assert/strict";
import { test } from "node:test";
import { eraftpb, metapb } from "#proto";
import { bytes } from "../testing/bytes.ts";
import { StoreCluster } from "../testing/cluster/store-cluster.ts";
import { dropMatching } from "../testing/transport-filters.ts";
import {
  MismatchPeerIdError,
  NotLeaderError,
  RaftEntryTooLargeError,
  RegionNotFoundError,
  RegionNotInitializedError,
  ServerIsBusyError,
  StaleCommandError,
  StoreNotMatchError,
} from "./region-errors.ts";
import { findPeerOnStore } from "./region-meta.ts";

const put = (key: string, value: string) => [{ type: "put" as const, key: bytes(key), value: bytes(value) }];

test("compare-and-swap is evaluated when it applies", async () => {
  const cluster = await StoreCluster.start({ label: "compare-and-swap", stores: 3 });
  try {
    const created = await cluster.compareAndSwap({
      key: bytes("cas"),
      value: bytes("0"),
      previousValue: undefined,
    });
    assert.deepEqual(created, { succeeded: true, previousValue: undefined });
    const again = await cluster.compareAndSwap({
      key: bytes("cas"),
      value: bytes("x"),
      previousValue: undefined,
    });
    assert.equal(again.succeeded, false);
    assert.equal(Buffer.from(again.previousValue!).toString(), "0");
    const wrong = await cluster.compareAndSwap({
      key: bytes("cas"),
      value: bytes("x"),
      previousValue: bytes("9"),
    });
    assert.equal(wrong.succeeded, false);
    assert.equal(await cluster.get("cas"), "0");
    // Many swaps from the same value race; exactly one wins, and the value is the winner's.
    const attempts = await Promise.all(
      Array.from({ length: 12 }, (_, index) =>
        cluster.compareAndSwap({
          key: bytes("cas"),
          value: bytes(`winner-${index}`),
          previousValue: bytes("0"),
        }),
      ),
    );
    const winners = attempts.flatMap((attempt, index) => (attempt.succeeded ? [index] : []));
    assert.equal(winners.length, 1);
    assert.equal(await cluster.get("cas"), `winner-${winners[0]}`);
    for (const attempt of attempts) assert.ok(attempt.succeeded || attempt.previousValue !== undefined);
  } finally {
    await cluster.close();
  }
});

test("every check on the request path answers its typed region error", async () => {
  const cluster = await StoreCluster.start({
    label: "request checks",
    stores: 3,
    raftstore: { raftEntryMaxSizeBytes: 1024 },
  });
  try {
    await cluster.put("a", "1");
    const { store: leader, context, region, index: leaderIndex } = cluster.routeRegion(cluster.firstRegionId);
    await assert.rejects(
      leader.write({ ...context, peer: { ...context.peer!, storeId: 99n } }, put("a", "x")),
      (error: unknown) => error instanceof StoreNotMatchError && error.requestStoreId === 99n,
    );
    await assert.rejects(leader.write({ ...context, regionId: 999n }, put("a", "x")), RegionNotFoundError);
    await assert.rejects(
      leader.write({ ...context, peer: { ...context.peer!, id: 424242n } }, put("a", "x")),
      MismatchPeerIdError,
    );
    await assert.rejects(leader.write({ ...context, term: 999n }, put("a", "x")), StaleCommandError);
    await assert.rejects(leader.write(context, put("big", "v".repeat(2048))), RaftEntryTooLargeError);
    const follower = cluster.indexes.find((index) => index !== leaderIndex)!;
    const followerPeer = findPeerOnStore(region, cluster.storeId(follower));
    await assert.rejects(
      cluster.store(follower).write({ ...context, peer: followerPeer }, put("a", "x")),
      (error: unknown) => error instanceof NotLeaderError && error.leader?.storeId === leader.storeId,
    );
    await assert.rejects(
      cluster
        .store(follower)
        .read({ ...context, peer: followerPeer }, { kind: "keys", keys: [bytes("a")] }, (reader) =>
          reader.get(bytes("a")),
        ),
      NotLeaderError,
    );
    assert.equal(await cluster.get("a"), "1");
  } finally {
    await cluster.close();
  }
});

test("a peer waiting for its first snapshot answers RegionNotInitialized", async () => {
  const cluster = await StoreCluster.start({ label: "uninitialized peer", stores: 4, replicas: 3 });
  try {
    const regionId = cluster.firstRegionId;
    await cluster.put("a", "1");
    const stop = cluster.addFilter(dropMatching({ types: [eraftpb.MessageType.SNAPSHOT] }));
    const learner = {
      id: await cluster.allocId(),
      storeId: cluster.storeId(3),
      role: metapb.PeerRole.LEARNER,
    };
    await cluster.changePeer(regionId, { type: "add-learner", peer: learner });
    await cluster.waitFor("the empty peer on store 3", () =>
      cluster
        .store(3)
        .peers()
        .some((peer) => peer.regionId === regionId),
    );
    await assert.rejects(
      cluster
        .store(3)
        .read(
          { regionId, regionEpoch: undefined, peer: learner, replicaRead: true },
          { kind: "keys", keys: [bytes("a")] },
          (reader) => reader.get(bytes("a")),
        ),
      RegionNotInitializedError,
    );
    stop();
    await cluster.waitFor(
      "the learner to be initialized",
      async () => (await cluster.localGet(3, "a")) === "1",
    );
  } finally {
    await cluster.close();
  }
});

test("full queues answer ServerIsBusy instead of growing", async () => {
  const cluster = await StoreCluster.start({
    label: "full queues",
    stores: 1,
    raftstore: { maxPendingProposals: 3 },
  });
  try {
    await cluster.put("warm", "up");
    const { store, context } = cluster.routeRegion(cluster.firstRegionId);
    const outcomes = await Promise.allSettled(
      Array.from({ length: 40 }, (_, index) => store.write(context, put(`burst-${index}`, "v"))),
    );
    const busy = outcomes.filter((outcome) => outcome.status === "rejected");
    assert.ok(busy.length > 0, "some writes were refused");
    for (const outcome of busy)
      assert.ok((outcome as PromiseRejectedResult).reason instanceof ServerIsBusyError);
    const accepted = outcomes.flatMap((outcome, index) => (outcome.status === "fulfilled" ? [index] : []));
    assert.ok(accepted.length >= 3);
    for (const index of accepted) assert.equal(await cluster.get(`burst-${index}`), "v");
  } finally {
    await cluster.close();
  }
});

test("a full region mailbox answers ServerIsBusy", async () => {
  const cluster = await StoreCluster.start({
    label: "full mailbox",
    stores: 1,
    raftstore: { maxRegionMailbox: 2 },
  });
  try {
    await cluster.put("warm", "up");
    const { store, context } = cluster.routeRegion(cluster.firstRegionId);
    const outcomes = await Promise.allSettled(
      Array.from({ length: 10 }, (_, index) => store.write(context, put(`m-${index}`, "v"))),
    );
    const refused = outcomes.filter((outcome) => outcome.status === "rejected");
    assert.equal(outcomes.length - refused.length, 2);
    for (const outcome of refused)
      assert.ok((outcome as PromiseRejectedResult).reason instanceof ServerIsBusyError);
  } finally {
    await cluster.close();
  }
});

test("requests for a destroyed peer answer RegionNotFound", async () => {
  const cluster = await StoreCluster.start({ label: "destroyed peer", stores: 3 });
  try {
    const regionId = cluster.firstRegionId;
    await cluster.transferLeader(regionId, 0);
    const region = cluster.routeRegion(regionId).region;
    const removedPeer = findPeerOnStore(region, cluster.storeId(2))!;
    await cluster.removePeer(regionId, 2);
    await cluster.waitFor("store 2 to destroy its peer", () => cluster.store(2).regionCount === 0);
    await assert.rejects(
      cluster.store(2).write({ regionId, regionEpoch: region.regionEpoch, peer: removedPeer }, put("a", "1")),
      RegionNotFoundError,
    );
  } finally {
    await cluster.close();
  }
});
