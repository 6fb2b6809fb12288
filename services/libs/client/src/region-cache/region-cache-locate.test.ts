import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { BackoffBudgetExceededError } from "../backoff/backoff-budget-exceeded-error.ts";
import { FakePd, key, text } from "../testing/fake-pd.ts";
import { setupCache } from "../testing/region-cache-setup.ts";
import { RegionMissError } from "./region-cache-errors.ts";

function rangeOf(location: { startKey: Uint8Array; endKey: Uint8Array }): [string, string] {
  return [text(location.startKey), text(location.endKey)];
}

describe("RegionCache locate", () => {
  it("misses once per region, then serves keys of that region from the cache", async () => {
    const { pd, lookups, locate } = setupCache();
    const first = await locate("a");
    const second = await locate("b");
    assert.equal(pd.calls.getRegion, 1);
    assert.ok(first.region.equals(second.region));
    assert.deepEqual(lookups, { hit: 1, miss: 1 });
    await locate("x");
    assert.equal(pd.calls.getRegion, 2);
  });

  it("treats start keys as inclusive, end keys as exclusive and empty keys as unbounded", async () => {
    const { pd, locate } = setupCache({ pd: FakePd.withLayout(["b", "d"]) });
    assert.deepEqual(rangeOf(await locate("")), ["", "b"]);
    assert.deepEqual(rangeOf(await locate("a\xff")), ["", "b"]);
    assert.deepEqual(rangeOf(await locate("b")), ["b", "d"]);
    assert.deepEqual(rangeOf(await locate("c\xff\xff")), ["b", "d"]);
    assert.deepEqual(rangeOf(await locate("d")), ["d", ""]);
    assert.deepEqual(rangeOf(await locate("zzzz")), ["d", ""]);
    assert.equal(pd.calls.getRegion, 3, "each region was loaded exactly once");
  });

  it("reloads an entry left unused past its TTL but keeps entries in use", async () => {
    const { pd, scheduler, locate } = setupCache({ ttlMs: 1000, ttlJitterMs: 100 });
    await locate("a");
    for (let use = 0; use < 5; use++) {
      scheduler.runFor(900);
      await locate("a");
    }
    assert.equal(pd.calls.getRegion, 1, "each use extended the TTL");
    scheduler.runFor(1101);
    await locate("a");
    assert.equal(pd.calls.getRegion, 2, "unused for longer than TTL + jitter");
  });

  it("spreads expiry over [ttl, ttl + jitter] so entries do not expire together", async () => {
    const outcomes = new Set<string>();
    for (let seed = 1; seed <= 30; seed++) {
      const { pd, scheduler, locate } = setupCache({ ttlMs: 1000, ttlJitterMs: 500, seed });
      await locate("a");
      scheduler.runFor(1000);
      await locate("a");
      assert.equal(pd.calls.getRegion, 1, "never expires before the TTL");
      scheduler.runFor(1250);
      await locate("a");
      const kept = pd.calls.getRegion === 1;
      outcomes.add(kept ? "kept" : "reloaded");
      scheduler.runFor(1501);
      await locate("a");
      assert.equal(pd.calls.getRegion, (kept ? 1 : 2) + 1, "always expires after TTL + jitter unused");
    }
    assert.deepEqual([...outcomes].sort(), ["kept", "reloaded"]);
  });

  it("loads a region once for concurrent lookups of the same key", async () => {
    const { pd, cache, backoffer } = setupCache();
    const release = pd.hold();
    const lookups = Array.from({ length: 8 }, () => cache.locateKey(key("a"), backoffer()));
    await new Promise((resolve) => setImmediate(resolve));
    release();
    const locations = await Promise.all(lookups);
    assert.equal(pd.calls.getRegion, 1);
    assert.ok(locations.every((location) => location.region.equals(locations[0]!.region)));
  });

  it("backs off pdRPC while pd is unreachable and regionMiss while pd has no region", async () => {
    const { pd, sleeps, locate } = setupCache();
    pd.failuresLeft = 2;
    assert.deepEqual(rangeOf(await locate("a")), ["", "m"]);
    assert.deepEqual(sleeps, ["pdRPC", "pdRPC"]);

    const empty = setupCache({ pd: new FakePd(), budgetMs: 200 });
    const error = await empty.locate("a").catch((caught: unknown) => caught);
    assert.ok(error instanceof BackoffBudgetExceededError);
    assert.ok(error.causes.every((cause) => cause.error instanceof RegionMissError));
    assert.ok(empty.sleeps.every((kind) => kind === "regionMiss"));
  });

  it("locates regions by id from the cache, and fails at once for an id pd does not know", async () => {
    const { pd, cache, run, backoffer, locate } = setupCache();
    const location = await locate("a");
    const byId = await run(cache.locateRegionById(location.region.id, backoffer()));
    assert.ok(byId.region.equals(location.region));
    assert.equal(pd.calls.getRegionById, 0);
    const right = pd.regionAt("x");
    assert.deepEqual(rangeOf(await run(cache.locateRegionById(right.id, backoffer()))), ["m", ""]);
    await assert.rejects(run(cache.locateRegionById(424242n, backoffer())), RegionMissError);
  });

  it("locates the region holding the keys below an end key, for reverse scans", async () => {
    for (const [endKey, expected] of [
      ["c", ["b", "d"]],
      ["d", ["b", "d"]],
      ["b", ["", "b"]],
      ["", ["d", ""]],
    ] as const) {
      const cold = setupCache({ pd: FakePd.withLayout(["b", "d"]) });
      const location = await cold.run(cold.cache.locateEndKey(key(endKey), cold.backoffer()));
      assert.deepEqual(rangeOf(location), expected, `cold cache, end key "${endKey}"`);
      const before = { ...cold.pd.calls };
      const again = await cold.run(cold.cache.locateEndKey(key(endKey), cold.backoffer()));
      assert.deepEqual(rangeOf(again), expected, `warm cache, end key "${endKey}"`);
      assert.deepEqual(cold.pd.calls, before, "the warm lookup asked pd nothing");
    }
  });

  it("groups keys by region, keeping the input order", async () => {
    const { cache, run, backoffer } = setupCache({ pd: FakePd.withLayout(["b", "d"]) });
    const groups = await run(cache.groupKeysByRegion(["a", "c", "b", "e", "a2"].map(key), backoffer()));
    assert.deepEqual(
      [...groups.values()].map((group) => [rangeOf(group.location), group.keys.map(text)]),
      [
        [
          ["", "b"],
          ["a", "a2"],
        ],
        [
          ["b", "d"],
          ["c", "b"],
        ],
        [["d", ""], ["e"]],
      ],
    );
    for (const [mapKey, group] of groups) assert.equal(mapKey, group.location.region.key);
  });
});

describe("RegionCache locateRange", () => {
  const splitKeys = Array.from({ length: 499 }, (_, index) => `k${String(index + 1).padStart(3, "0")}`);

  it("loads 500 regions in batches of 128 and returns them in key order", async () => {
    const { pd, cache, run, backoffer } = setupCache({ pd: FakePd.withLayout(splitKeys) });
    const locations = await run(cache.locateRange(key(""), key(""), backoffer()));
    assert.equal(locations.length, 500);
    assert.equal(pd.calls.scanRegions, Math.ceil(500 / 128));
    assert.equal(text(locations[0]!.startKey), "");
    assert.equal(text(locations.at(-1)!.endKey), "");
    for (let index = 1; index < locations.length; index++) {
      assert.deepEqual(locations[index]!.startKey, locations[index - 1]!.endKey);
    }
    const again = await run(cache.locateRange(key(""), key(""), backoffer()));
    assert.equal(again.length, 500);
    assert.equal(pd.calls.scanRegions, 4, "the second walk is served from the cache");
  });

  it("stops at the end key and at the limit, and loads only what the cache lacks", async () => {
    const { pd, cache, run, backoffer, locate } = setupCache({
      pd: FakePd.withLayout(splitKeys),
      scanBatchSize: 20,
    });
    assert.equal((await run(cache.locateRange(key("k100"), key("k130"), backoffer()))).length, 30);
    assert.equal(pd.calls.scanRegions, 2, "k100..k119, then k120..k129 (pd stops at the end key)");
    const middle = await run(cache.locateRange(key("k100x"), key("k200"), backoffer()));
    assert.equal(middle.length, 100);
    assert.deepEqual(rangeOf(middle[0]!), ["k100", "k101"]);
    assert.deepEqual(rangeOf(middle.at(-1)!), ["k199", "k200"]);
    assert.equal(pd.calls.scanRegions, 6, "k100..k129 came from the cache, k130..k199 in 4 batches");

    const limited = await run(cache.locateRange(key("k300"), key(""), backoffer(), 10));
    assert.equal(limited.length, 10);
    assert.deepEqual(rangeOf(limited.at(-1)!), ["k309", "k310"]);
    assert.equal(pd.calls.scanRegions, 7);
    await locate("k310");
    assert.equal(pd.calls.getRegion, 1, "the limited scan asked pd for no more than it needed");
  });

  it("returns nothing for an empty range and rejects a start after the end", async () => {
    const { cache, run, backoffer } = setupCache();
    assert.deepEqual(await run(cache.locateRange(key("c"), key("c"), backoffer())), []);
    await assert.rejects(run(cache.locateRange(key("d"), key("c"), backoffer())), RangeError);
  });
});
