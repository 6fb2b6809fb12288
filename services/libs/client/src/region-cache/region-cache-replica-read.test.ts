import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { FakePd } from "../testing/fake-pd.ts";
import { setupCache } from "../testing/region-cache-setup.ts";

describe("RegionCache replica read", () => {
  it("leader reads go to the leader and are not marked as replica reads", async () => {
    const { context } = setupCache();
    const leader = await context("a", "leader");
    assert.equal(leader.storeId, 1n);
    assert.equal(leader.kvContext.replicaRead, false);
    assert.equal(leader.kvContext.regionId, leader.meta.id);
    assert.deepEqual(leader.kvContext.peer, leader.peer);
  });

  it("follower reads never pick the leader and rotate through the followers by seed", async () => {
    const { context } = setupCache();
    const stores: bigint[] = [];
    for (let seed = 0; seed < 6; seed++) {
      const follower = await context("a", "follower", seed);
      assert.equal(follower.kvContext.replicaRead, true);
      assert.deepEqual(follower.kvContext.peer, follower.peer);
      stores.push(follower.storeId);
    }
    assert.deepEqual(stores, [2n, 3n, 2n, 3n, 2n, 3n]);
  });

  it("follower reads without a seed spread over the followers and still avoid the leader", async () => {
    const { context } = setupCache();
    const stores = new Set<bigint>();
    for (let read = 0; read < 40; read++) stores.add((await context("a", "follower")).storeId);
    assert.deepEqual([...stores].sort(), [2n, 3n]);
  });

  it("follower reads follow a leader change and skip followers on failed stores", async () => {
    const { cache, run, context } = setupCache();
    const leader = await context("a");
    assert.equal(cache.onNotLeader(leader, leader.meta.peers[1]), "switched");
    const afterSwitch = new Set<bigint>();
    for (let seed = 0; seed < 4; seed++) afterSwitch.add((await context("a", "follower", seed)).storeId);
    assert.deepEqual([...afterSwitch].sort(), [1n, 3n], "store 2 now leads");

    const onStore3 = await context("a", "follower", 1);
    assert.equal(onStore3.storeId, 3n);
    cache.onSendFail(onStore3, new Error("refused"));
    for (let seed = 0; seed < 4; seed++) {
      const follower = await run(cache.getRpcContext(leader.region, "follower", seed));
      assert.equal(follower?.storeId, 1n);
    }
  });

  it("follower reads fall back to the leader when the region has no follower", async () => {
    const { context } = setupCache({ pd: FakePd.withLayout([], [1n]) });
    assert.equal((await context("a", "follower", 5)).storeId, 1n);
  });

  it("mixed reads use every peer, the leader included", async () => {
    const { context } = setupCache();
    const stores: bigint[] = [];
    for (let seed = 0; seed < 3; seed++) stores.push((await context("a", "mixed", seed)).storeId);
    assert.deepEqual(stores, [1n, 2n, 3n]);
    assert.equal((await context("a", "mixed", 0)).kvContext.replicaRead, true);
  });
});
