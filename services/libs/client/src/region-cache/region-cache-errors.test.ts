import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { metapb } from "#proto";
import { FakePd, text } from "../testing/fake-pd.ts";
import { setupCache } from "../testing/region-cache-setup.ts";
import { RegionVerId } from "./region-ver-id.ts";

function peerOn(region: metapb.Region, storeId: bigint): metapb.Peer {
  const peer = region.peers.find((candidate) => candidate.storeId === storeId);
  assert.ok(peer, `region ${region.id} has no peer on store ${storeId}`);
  return peer;
}

describe("RegionCache NotLeader", () => {
  it("switches to the hinted leader at once, without asking for a backoff or reloading", async () => {
    const { pd, cache, run, context } = setupCache();
    const before = await context("a");
    assert.equal(before.storeId, 1n);
    assert.equal(cache.onNotLeader(before, peerOn(before.meta, 2n)), "switched");
    const after = await run(cache.getRpcContext(before.region));
    assert.equal(after?.storeId, 2n);
    assert.equal(after?.address, "store-2:20160");
    assert.deepEqual(after?.kvContext.peer, peerOn(before.meta, 2n));
    assert.equal(pd.calls.getRegion, 1);
  });

  it("invalidates the region when the hint names a peer the cached region does not have", async () => {
    const { pd, cache, run, context, locate } = setupCache();
    const before = await context("a");
    const stranger = metapb.Peer.create({ id: 999n, storeId: 9n });
    assert.equal(cache.onNotLeader(before, stranger), "invalidated");
    assert.equal(await run(cache.getRpcContext(before.region)), undefined);
    await locate("a");
    assert.equal(pd.calls.getRegion, 2, "the next locate reloads from pd");
  });

  it("invalidates the region when there is no hint", async () => {
    const { pd, cache, run, context, locate } = setupCache();
    const before = await context("a");
    assert.equal(cache.onNotLeader(before), "invalidated");
    assert.equal(await run(cache.getRpcContext(before.region)), undefined);
    await locate("a");
    assert.equal(pd.calls.getRegion, 2);
  });

  it("invalidates when the hint names the peer that refused (nothing to switch to)", async () => {
    const { cache, run, context } = setupCache();
    const before = await context("a");
    assert.equal(cache.onNotLeader(before, before.peer), "invalidated");
    assert.equal(await run(cache.getRpcContext(before.region)), undefined);
  });
});

describe("RegionCache EpochNotMatch", () => {
  it("caches both halves of a split, drops the old region and routes keys to the new ones", async () => {
    const { pd, cache, run, context, locate } = setupCache();
    const stale = await context("a");
    const [left, right] = pd.split("g");
    assert.equal(cache.onEpochNotMatch(stale, [left, right]), "updated");
    assert.equal(await run(cache.getRpcContext(stale.region)), undefined, "the old region is gone");
    const leftLocation = await locate("a");
    const rightLocation = await locate("h");
    assert.ok(leftLocation.region.equals(RegionVerId.of(left)));
    assert.ok(rightLocation.region.equals(RegionVerId.of(right)));
    assert.deepEqual([text(rightLocation.startKey), text(rightLocation.endKey)], ["g", "m"]);
    assert.equal(pd.calls.getRegion, 1, "the split halves came from the error, not from pd");
    const onRight = await run(cache.getRpcContext(rightLocation.region));
    assert.equal(onRight?.storeId, stale.storeId, "the store that answered stays the work peer");
    assert.equal(onRight?.kvContext.regionEpoch?.version, 2n);
    assert.equal(cache.size, 2, "the two halves, nothing else");
  });

  it("ignores returned regions older than the cached ones", async () => {
    const { pd, cache, context, locate } = setupCache();
    const stale = await context("a");
    const original = pd.regionAt("a");
    const [left, right] = pd.split("g");
    cache.onEpochNotMatch(stale, [left, right]);
    const current = await context("x");
    const [, rightOfX] = pd.split("t");
    cache.onEpochNotMatch(current, [original, rightOfX]);
    assert.ok(
      (await locate("a")).region.equals(RegionVerId.of(left)),
      "the older [, m) did not replace [, g)",
    );
    assert.ok((await locate("u")).region.equals(RegionVerId.of(rightOfX)));
    assert.equal(pd.calls.getRegion, 2);
  });

  it("asks for a backoff and changes nothing when the store knows an older epoch than ours", async () => {
    const { pd, cache, run, context } = setupCache();
    const original = pd.regionAt("a");
    const [left] = pd.split("g");
    const current = await context("a");
    assert.ok(current.region.equals(RegionVerId.of(left)));
    assert.equal(cache.onEpochNotMatch(current, [original]), "storeBehind");
    assert.ok((await run(cache.getRpcContext(current.region)))?.region.equals(current.region));
  });

  it("invalidates the region when the store returned no current regions", async () => {
    const { pd, cache, run, context, locate } = setupCache();
    const stale = await context("a");
    assert.equal(cache.onEpochNotMatch(stale, []), "invalidated");
    assert.equal(await run(cache.getRpcContext(stale.region)), undefined);
    await locate("a");
    assert.equal(pd.calls.getRegion, 2);
  });
});

describe("RegionCache send failure", () => {
  it("retires every region routed to the failed store, moves on to the next peer and re-resolves the address", async () => {
    const { pd, cache, run, context, locate } = setupCache();
    const failedLeft = await context("a");
    const staleRight = await context("x");
    assert.equal(failedLeft.storeId, 1n);
    assert.equal(staleRight.storeId, 1n);
    const storeLookups = pd.calls.getStore;

    cache.onSendFail(failedLeft, new Error("connection refused"));
    const retried = await run(cache.getRpcContext(failedLeft.region));
    assert.equal(retried?.storeId, 2n, "the failed region tries its next peer");
    assert.equal(
      await run(cache.getRpcContext(staleRight.region)),
      undefined,
      "other regions on the store are retired",
    );

    pd.setStore(1n, "store-1-moved:20160");
    await locate("x");
    assert.equal(pd.calls.getRegion, 3, "the retired region was reloaded from pd");
    const reloaded = await context("x");
    assert.equal(reloaded.storeId, 1n, "pd still names store 1 as leader");
    assert.equal(reloaded.address, "store-1-moved:20160", "the address was re-resolved");
    assert.equal(pd.calls.getStore, storeLookups + 1 + 1, "store 2 resolved once, store 1 re-resolved once");

    cache.onSendFail(staleRight, new Error("late report from before the bump"));
    assert.equal(
      (await run(cache.getRpcContext(reloaded.region)))?.storeId,
      1n,
      "a stale report neither bumps the epoch again nor moves the reloaded region off store 1",
    );
  });

  it("a follower's failure leaves the region's leader alone", async () => {
    const { cache, run, context } = setupCache();
    const follower = await context("a", "follower", 0);
    assert.equal(follower.storeId, 2n);
    cache.onSendFail(follower, new Error("refused"));
    assert.equal((await run(cache.getRpcContext(follower.region, "leader")))?.storeId, 1n);
  });

  it("keeps the old address when pd cannot be reached to re-resolve it", async () => {
    const { pd, cache, run, context, locate } = setupCache({ pd: FakePd.withLayout([], [1n]) });
    const first = await context("a");
    cache.onSendFail(first, new Error("refused"));
    assert.equal(await run(cache.getRpcContext(first.region)), undefined, "its only store failed");
    const location = await locate("a");
    pd.setStore(1n, "store-1-new:20160");
    pd.failuresLeft = 1;
    const reloaded = await run(cache.getRpcContext(location.region));
    assert.equal(reloaded?.address, "store-1:20160");
    assert.equal((await run(cache.getRpcContext(location.region)))?.address, "store-1-new:20160");
  });
});

describe("RegionCache stores and invalidation", () => {
  it("drops a region whose store became a tombstone", async () => {
    const { pd, cache, run, locate } = setupCache({ pd: FakePd.withLayout([], [1n]) });
    const location = await locate("a");
    pd.setStore(1n, "store-1:20160", metapb.StoreState.TOMBSTONE);
    assert.equal(await run(cache.getRpcContext(location.region)), undefined);
    assert.equal(cache.size, 0);
  });

  it("answers undefined without dropping the region while pd cannot resolve a never-seen store", async () => {
    const { pd, cache, run, locate } = setupCache();
    const location = await locate("a");
    pd.failuresLeft = 1;
    assert.equal(await run(cache.getRpcContext(location.region)), undefined);
    assert.equal(cache.size, 1);
    assert.equal((await run(cache.getRpcContext(location.region)))?.address, "store-1:20160");
  });

  it("RegionNotFound and invalidateRegion drop the region; close drops everything", async () => {
    const { pd, cache, run, context, locate } = setupCache();
    const left = await context("a");
    const right = await context("x");
    cache.onRegionNotFound(left.region);
    assert.equal(await run(cache.getRpcContext(left.region)), undefined);
    cache.invalidateRegion(right.region);
    assert.equal(await run(cache.getRpcContext(right.region)), undefined);
    await locate("a");
    cache.close();
    assert.equal(cache.size, 0);
    await locate("a");
    assert.equal(pd.calls.getRegion, 4);
  });

  it("answers undefined for a region unused past its TTL", async () => {
    const { scheduler, cache, run, context } = setupCache({ ttlMs: 1000, ttlJitterMs: 0 });
    const before = await context("a");
    scheduler.runFor(1001);
    assert.equal(await run(cache.getRpcContext(before.region)), undefined);
  });
});
