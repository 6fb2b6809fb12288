import assert from "node:assert/strict";
import { test } from "node:test";
import { eraftpb, metapb } from "#proto";
import { FIRST_REGION_ID, TestCluster, text } from "../testing/raftstore-cluster.ts";
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

const put = (key: string, value: string) => [{ type: "put" as const, key: text(key), value: text(value) }];

test("compare-and-swap is evaluated when it applies", async () => {
  const cluster = await TestCluster.start({ storeCount: 3 });
  try {
    const created = await cluster.compareAndSwap({
      key: text("cas"),
      value: text("0"),
      previousValue: undefined,
    });
    assert.deepEqual(created, { succeeded: true, previousValue: undefined });
    const again = await cluster.compareAndSwap({
      key: text("cas"),
      value: text("x"),
      previousValue: undefined,
    });
    assert.equal(again.succeeded, false);
    assert.equal(Buffer.from(again.previousValue!).toString(), "0");
    const wrong = await cluster.compareAndSwap({
      key: text("cas"),
      value: text("x"),
      previousValue: text("9"),
    });
    assert.equal(wrong.succeeded, false);
    assert.equal(await cluster.get("cas"), "0");
    // Many swaps from the same value race; exactly one wins, and the value is the winner's.
    const attempts = await Promise.all(
      Array.from({ length: 12 }, (_, index) =>
        cluster.compareAndSwap({
          key: text("cas"),
          value: text(`winner-${index}`),
          previousValue: text("0"),
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
  const cluster = await TestCluster.start({ storeCount: 3, config: { raftEntryMaxSizeBytes: 1024 } });
  try {
    await cluster.put("a", "1");
    const { store: leader, context, region } = cluster.routeRegion(FIRST_REGION_ID);
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
    const follower = cluster.storeIds.find((storeId) => storeId !== leader.storeId)!;
    const followerPeer = findPeerOnStore(region, follower);
    await assert.rejects(
      cluster.store(follower).write({ ...context, peer: followerPeer }, put("a", "x")),
      (error: unknown) => error instanceof NotLeaderError && error.leader?.storeId === leader.storeId,
    );
    await assert.rejects(
      cluster
        .store(follower)
        .read({ ...context, peer: followerPeer }, { kind: "keys", keys: [text("a")] }, (reader) =>
          reader.get(text("a")),
        ),
      NotLeaderError,
    );
    assert.equal(await cluster.get("a"), "1");
  } finally {
    await cluster.close();
  }
});

test("a peer waiting for its first snapshot answers RegionNotInitialized", async () => {
  const cluster = await TestCluster.start({ storeCount: 4, initialStores: [1n, 2n, 3n] });
  try {
    await cluster.put("a", "1");
    const stop = cluster.hub.dropTypes([eraftpb.MessageType.SNAPSHOT]);
    const learner = { id: cluster.pd.allocId(), storeId: 4n, role: metapb.PeerRole.LEARNER };
    await cluster.changePeer(FIRST_REGION_ID, { type: "add-learner", peer: learner });
    await cluster.waitFor("the empty peer on store 4", () =>
      cluster
        .store(4n)
        .peers()
        .some((peer) => peer.regionId === FIRST_REGION_ID),
    );
    await assert.rejects(
      cluster
        .store(4n)
        .read(
          { regionId: FIRST_REGION_ID, regionEpoch: undefined, peer: learner, replicaRead: true },
          { kind: "keys", keys: [text("a")] },
          (reader) => reader.get(text("a")),
        ),
      RegionNotInitializedError,
    );
    stop();
    await cluster.waitFor(
      "the learner to be initialized",
      async () => (await cluster.localGet(4n, "a")) === "1",
    );
  } finally {
    await cluster.close();
  }
});

test("full queues answer ServerIsBusy instead of growing", async () => {
  const cluster = await TestCluster.start({ storeCount: 1, config: { maxPendingProposals: 3 } });
  try {
    await cluster.put("warm", "up");
    const { store, context } = cluster.routeRegion(FIRST_REGION_ID);
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
  const cluster = await TestCluster.start({ storeCount: 1, config: { maxRegionMailbox: 2 } });
  try {
    await cluster.put("warm", "up");
    const { store, context } = cluster.routeRegion(FIRST_REGION_ID);
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
  const cluster = await TestCluster.start({ storeCount: 3 });
  try {
    await cluster.transferLeader(FIRST_REGION_ID, 1n);
    const region = cluster.routeRegion(FIRST_REGION_ID).region;
    const removedPeer = findPeerOnStore(region, 3n)!;
    await cluster.removePeer(FIRST_REGION_ID, removedPeer);
    await cluster.waitFor("store 3 to destroy its peer", () => cluster.store(3n).regionCount === 0);
    await assert.rejects(
      cluster
        .store(3n)
        .write(
          { regionId: FIRST_REGION_ID, regionEpoch: region.regionEpoch, peer: removedPeer },
          put("a", "1"),
        ),
      RegionNotFoundError,
    );
  } finally {
    await cluster.close();
  }
});
