import assert from "node:assert/strict";
import { afterEach, describe, it } from "node:test";
import { createRegistry, MetricFactory } from "#observability";
import { errorpb } from "#proto";
import {
  InvariantError,
  SeededRandom,
  sleep,
  systemClock,
  systemTimers,
  type TimerHandle,
  type Timers,
} from "#runtime";
import { BackoffBudgetExceededError } from "../backoff/backoff-budget-exceeded-error.ts";
import { RegionCache } from "../region-cache/region-cache.ts";
import { RegionRequestError } from "../rpc/region-errors.ts";
import type { RegionCommandCase } from "../rpc/region-request-sender.ts";
import { RpcClient } from "../rpc/rpc-client.ts";
import { UnknownOutcomeError } from "../rpc/rpc-errors.ts";
import { StoreConnection } from "../rpc/store-connection.ts";
import { NO_ANSWER, type TestCommandHandler } from "../testing/batch-server.ts";
import { FakeCluster, key } from "../testing/fake-cluster.ts";
import { RawKvClient } from "./raw-kv-client.ts";
import type { RawKvSettings } from "./raw-kv-client-options.ts";
import { RawKvArgumentError, RawKvClientClosedError } from "./raw-kv-errors.ts";
import { RawKvMetrics } from "./raw-kv-metrics.ts";

const LETTER_SPLITS = ["b", "d", "f", "h", "j", "l", "n", "p", "r", "t", "v", "x"];

/** Backoff sleeps fire on the next turn instead of after their delay, so retry paths run fast. */
const instantTimers: Timers = {
  setTimeout: (callback: () => void): TimerHandle => systemTimers.setTimeout(callback, 0),
  setInterval: (): TimerHandle => {
    throw new Error("backoffers arm no intervals");
  },
};

const text = (bytes: Uint8Array | undefined): string | undefined =>
  bytes === undefined ? undefined : new TextDecoder().decode(bytes);

async function waitFor(condition: () => Promise<boolean>): Promise<void> {
  for (let attempt = 0; attempt < 500 && !(await condition()); attempt++) await sleep(10);
  assert.ok(await condition(), "condition never held");
}

interface Harness {
  readonly cluster: FakeCluster;
  readonly client: RawKvClient;
  /** Backoff sleeps taken so far by kind name. */
  backoffs(kind: string): Promise<number>;
  totalBackoffs(): Promise<number>;
}

describe("RawKvClient", () => {
  const cleanups: Array<() => Promise<void> | void> = [];

  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function start(splits: readonly string[], settings: RawKvSettings = {}): Promise<Harness> {
    const cluster = await FakeCluster.start(3, splits);
    cleanups.push(() => cluster.close());
    const metrics = new RawKvMetrics(new MetricFactory(createRegistry("test"), "test"));
    const regionCache = new RegionCache({
      pd: cluster.pd,
      clock: systemClock,
      random: new SeededRandom(1),
      onLookup: (result) => metrics.regionCacheLookups.inc({ result }),
    });
    // The RPC client keeps real timers: its deadlines must not fire early.
    const rpc = new RpcClient({ random: new SeededRandom(2) });
    const client = new RawKvClient(
      { regionCache, rpc, metrics },
      { timers: instantTimers, random: new SeededRandom(3), scanPageSize: 2, ...settings },
    );
    cleanups.push(() => client.close());
    const backoffValues = async () => (await metrics.backoffs.get()).values;
    return {
      cluster,
      client,
      backoffs: async (kind) =>
        (await backoffValues()).find((value) => value.labels.kind === kind)?.value ?? 0,
      totalBackoffs: async () => (await backoffValues()).reduce((sum, value) => sum + value.value, 0),
    };
  }

  it("reads and writes across many regions: point, batch, scans both ways, delete range, CAS", async () => {
    const { cluster, client } = await start(LETTER_SPLITS);
    const keys = [..."abcdefghijklmnopqrstuvwxyz"].flatMap((letter) => [`${letter}1`, `${letter}2`]);
    await client.batchPut(keys.map((name) => ({ key: key(name), value: key(`v-${name}`) })));
    assert.ok(
      new Set(cluster.received.map((request) => request.regionId)).size >= 13,
      "every region got its share",
    );

    const values = await client.batchGet([key("z2"), key("a1"), key("missing"), key("m1")]);
    assert.deepEqual(values.map(text), ["v-z2", "v-a1", undefined, "v-m1"]);
    assert.equal(text(await client.get(key("q2"))), "v-q2");

    const all = await client.scan(new Uint8Array(), new Uint8Array(), 1000);
    assert.deepEqual(
      all.map((pair) => text(pair.key)),
      keys,
    );
    const firstFive = await client.scan(key("c"), new Uint8Array(), 5);
    assert.deepEqual(
      firstFive.map((pair) => text(pair.key)),
      ["c1", "c2", "d1", "d2", "e1"],
    );
    const lastSeven = await client.scan(key("c"), key("m"), 7, { reverse: true });
    assert.deepEqual(
      lastSeven.map((pair) => text(pair.key)),
      ["l2", "l1", "k2", "k1", "j2", "j1", "i2"],
    );
    const keysOnly = await client.scan(key("w"), new Uint8Array(), 100, { keyOnly: true });
    assert.deepEqual(
      keysOnly.map((pair) => [text(pair.key), pair.value.length]),
      [
        ["w1", 0],
        ["w2", 0],
        ["x1", 0],
        ["x2", 0],
        ["y1", 0],
        ["y2", 0],
        ["z1", 0],
        ["z2", 0],
      ],
    );

    await client.deleteRange(key("e"), key("q"));
    await client.batchDelete([key("a1"), key("z2")]);
    await client.delete(key("b1"));
    const left = await client.scan(new Uint8Array(), new Uint8Array(), 1000, { reverse: true });
    const expected = keys.filter((name) => (name < "e" || name >= "q") && !["a1", "z2", "b1"].includes(name));
    assert.deepEqual(
      left.map((pair) => text(pair.key)),
      expected.reverse(),
    );

    assert.deepEqual(await client.compareAndSwap(key("cas"), undefined, key("one")), {
      succeeded: true,
      previous: undefined,
    });
    const refused = await client.compareAndSwap(key("cas"), key("wrong"), key("two"));
    assert.equal(refused.succeeded, false);
    assert.equal(text(refused.previous), "one");
    assert.equal((await client.compareAndSwap(key("cas"), key("one"), key("two"))).succeeded, true);
    assert.equal(text(await client.get(key("cas"))), "two");
  });

  it("follows a NotLeader hint at once, without backing off or reloading the region", async () => {
    const harness = await start(LETTER_SPLITS);
    await harness.client.put(key("k1"), key("before"));
    const regionLookups = harness.cluster.pdRegionLookups;
    harness.cluster.transferLeader("k", 2n, { tellPd: false });
    await harness.client.put(key("k1"), key("after"));
    assert.equal(text(await harness.client.get(key("k1"))), "after");
    assert.equal(await harness.totalBackoffs(), 0);
    assert.equal(harness.cluster.pdRegionLookups, regionLookups, "the hint alone routed the retry");
    const last = harness.cluster.received.at(-1)!;
    assert.equal(last.storeId, 2n, "later requests go straight to the new leader");
  });

  it("backs off (regionMiss) and reloads from pd on NotLeader without a hint", async () => {
    const harness = await start(LETTER_SPLITS);
    await harness.client.put(key("k1"), key("v"));
    const regionLookups = harness.cluster.pdRegionLookups;
    harness.cluster.injected.push({
      storeId: 1n,
      command: "rawGet",
      times: 1,
      error: errorpb.Error.fromPartial({ message: "not leader", notLeader: { regionId: 0n } }),
    });
    assert.equal(text(await harness.client.get(key("k1"))), "v");
    assert.ok((await harness.backoffs("regionMiss")) >= 1);
    assert.ok(harness.cluster.pdRegionLookups > regionLookups, "the region was reloaded from pd");
  });

  it("follows a split (EpochNotMatch) without backing off, regrouping a batch over both halves", async () => {
    const harness = await start(["j", "n"]);
    await harness.client.batchPut(
      ["j1", "k1", "l1", "m1"].map((name) => ({ key: key(name), value: key(name) })),
    );
    harness.cluster.split("l");
    await harness.client.batchPut(
      ["j2", "k2", "l2", "m2"].map((name) => ({ key: key(name), value: key(name) })),
    );
    const values = await harness.client.batchGet(["j1", "j2", "k1", "k2", "l1", "l2", "m1", "m2"].map(key));
    assert.deepEqual(values.map(text), ["j1", "j2", "k1", "k2", "l1", "l2", "m1", "m2"]);
    harness.cluster.split("k");
    const scanned = await harness.client.scan(key("j"), key("n"), 100);
    assert.deepEqual(
      scanned.map((pair) => text(pair.key)),
      ["j1", "j2", "k1", "k2", "l1", "l2", "m1", "m2"],
    );
    assert.equal(await harness.totalBackoffs(), 0);
    assert.ok(harness.cluster.received.length > 0);
  });

  it("waits out ServerIsBusy outside the budget and StaleCommand inside it", async () => {
    const harness = await start(LETTER_SPLITS, { backoffBudgetMs: 50 });
    harness.cluster.injected.push(
      { command: "rawPut", times: 3, error: errorpb.Error.fromPartial({ serverIsBusy: { reason: "test" } }) },
      { command: "rawGet", times: 2, error: errorpb.Error.fromPartial({ staleCommand: {} }) },
    );
    await harness.client.put(key("c1"), key("v"));
    assert.equal(text(await harness.client.get(key("c1"))), "v");
    assert.equal(await harness.backoffs("serverBusy"), 3);
    assert.equal(await harness.backoffs("staleCmd"), 2);
  });

  it("drops the region and reloads it on RegionNotFound", async () => {
    const harness = await start(LETTER_SPLITS);
    await harness.client.put(key("g1"), key("v"));
    const regionLookups = harness.cluster.pdRegionLookups;
    harness.cluster.injected.push({
      command: "rawGet",
      times: 1,
      error: errorpb.Error.fromPartial({ regionNotFound: { regionId: 0n } }),
    });
    assert.equal(text(await harness.client.get(key("g1"))), "v");
    assert.equal(await harness.backoffs("regionMiss"), 1);
    assert.ok(harness.cluster.pdRegionLookups > regionLookups);
  });

  it("moves to another peer when the leader's store cannot be reached", async () => {
    const harness = await start(LETTER_SPLITS);
    await harness.client.put(key("k1"), key("v"));
    harness.cluster.transferLeader("k", 2n, { tellPd: false });
    harness.cluster.stores.get(1n)!.stop();
    assert.equal(text(await harness.client.get(key("k1"))), "v");
    assert.ok((await harness.backoffs("tikvRPC")) >= 1);
    assert.equal(harness.cluster.received.at(-1)!.storeId, 2n);
  });

  it("treats a timeout as slowness: the region is reloaded, the store stays in use", async () => {
    const harness = await start(LETTER_SPLITS, { requestTimeoutMs: 200 });
    await harness.client.put(key("k1"), key("v"));
    harness.cluster.injected.push({ storeId: 1n, command: "rawGet", times: 1, error: NO_ANSWER });
    assert.equal(text(await harness.client.get(key("k1"))), "v");
    assert.equal(await harness.backoffs("tikvRPC"), 1);
    assert.equal(harness.cluster.received.at(-1)!.storeId, 1n, "the slow store still serves the retry");
    await harness.client.put(key("a1"), key("other region, same store"));
    assert.equal(harness.cluster.received.at(-1)!.storeId, 1n);
  });

  it("does not resend a put, delete or batch put whose answer was lost: the outcome is unknown", async () => {
    const harness = await start(LETTER_SPLITS, { requestTimeoutMs: 200 });
    const writes: Array<[RegionCommandCase, () => Promise<unknown>]> = [
      ["rawPut", () => harness.client.put(key("k1"), key("v"))],
      ["rawDelete", () => harness.client.delete(key("k2"))],
      ["rawBatchPut", () => harness.client.batchPut([{ key: key("k3"), value: key("v") }])],
    ];
    for (const [command, write] of writes) {
      harness.cluster.injected.push({ storeId: 1n, command, times: 1, error: NO_ANSWER });
      const error = await write().catch((caught: unknown) => caught);
      assert.ok(error instanceof UnknownOutcomeError, `${command}: ${String(error)}`);
      const attempts = harness.cluster.received.filter((request) => request.command === command);
      // Resent, it could apply twice: the second time after, and over, other clients' writes.
      assert.equal(attempts.length, 1, `${command} was resent`);
    }
    harness.cluster.injected.push({
      command: "rawPut",
      times: 1,
      error: errorpb.Error.fromPartial({ message: "stale command", staleCommand: {} }),
    });
    const stale = await harness.client.put(key("k4"), key("v")).catch((caught: unknown) => caught);
    assert.ok(stale instanceof UnknownOutcomeError, String(stale));
    // A read whose answer was lost is simply asked again.
    harness.cluster.injected.push({ storeId: 1n, command: "rawGet", times: 1, error: NO_ANSWER });
    assert.equal(await harness.client.get(key("k5")), undefined);
  });

  it("does not retry a compare-and-swap whose answer was lost: the outcome is unknown", async () => {
    const harness = await start(LETTER_SPLITS, { requestTimeoutMs: 200 });
    harness.cluster.injected.push({ storeId: 1n, command: "rawCompareAndSwap", times: 1, error: NO_ANSWER });
    const error = await harness.client
      .compareAndSwap(key("k1"), undefined, key("mine"))
      .catch((caught: unknown) => caught);
    assert.ok(error instanceof UnknownOutcomeError, String(error));
    const attempts = harness.cluster.received.filter((request) => request.command === "rawCompareAndSwap");
    assert.equal(attempts.length, 1, "a retry would compare against its own swap");
    // StaleCommand: the store stopped waiting, but the swap may still commit under the next leader.
    harness.cluster.injected.push({
      storeId: 1n,
      command: "rawCompareAndSwap",
      times: 1,
      error: errorpb.Error.fromPartial({ message: "stale command", staleCommand: {} }),
    });
    const stale = await harness.client
      .compareAndSwap(key("k3"), undefined, key("mine"))
      .catch((caught: unknown) => caught);
    assert.ok(stale instanceof UnknownOutcomeError, String(stale));
    // A definite refusal (a region error) is still retried transparently.
    harness.cluster.injected.push({
      storeId: 1n,
      command: "rawCompareAndSwap",
      times: 1,
      error: errorpb.Error.fromPartial({ message: "busy", serverIsBusy: { reason: "test", backoffMs: 1n } }),
    });
    const swapped = await harness.client.compareAndSwap(key("k2"), undefined, key("mine"));
    assert.equal(swapped.succeeded, true);
  });

  it("gives up when the budget runs out, listing every cause", async () => {
    const harness = await start(LETTER_SPLITS, { backoffBudgetMs: 100 });
    harness.cluster.hintLeaders = false;
    harness.cluster.transferLeader("k", 4n, { tellPd: false });
    const error = await harness.client.get(key("k1")).catch((caught: unknown) => caught);
    assert.ok(error instanceof BackoffBudgetExceededError, String(error));
    assert.ok(error.causes.length >= 3, `only ${error.causes.length} causes`);
    for (const cause of error.causes) {
      assert.ok(cause.error instanceof RegionRequestError, String(cause.error));
      assert.equal(cause.error.kind, "notLeader");
    }
    assert.match(error.message, /notLeader for region \d+ from store 1/);
  });

  it("a bug below the retry layers fails the call with it: it is never retried on another peer", async (t) => {
    const harness = await start(LETTER_SPLITS);
    const send = t.mock.method(StoreConnection.prototype, "send", () => {
      throw new InvariantError("injected by the test");
    });
    await assert.rejects(harness.client.put(key("k1"), key("v")), InvariantError);
    await assert.rejects(harness.client.get(key("k1")), InvariantError);
    assert.equal(send.mock.callCount(), 2);
    assert.equal(harness.cluster.received.length, 0);
    assert.equal(await harness.totalBackoffs(), 0);
  });

  it("sends a batch's regions in parallel, never more at once than the bound", async () => {
    for (const [bound, expectParallel] of [
      [2, false],
      [8, true],
    ] as const) {
      const harness = await start(LETTER_SPLITS, { maxConcurrentRegionRequests: bound });
      const leader = harness.cluster.stores.get(1n)!;
      const serve = leader.handler;
      const slowly: TestCommandHandler = async (request) => {
        await sleep(20);
        return serve(request);
      };
      leader.handler = slowly;
      const names = [..."abcdefghijklmnopqrstuvwxyz"].map((letter) => `${letter}0`);
      await harness.client.batchPut(names.map((name) => ({ key: key(name), value: key(name) })));
      assert.ok(
        leader.maxOutstandingTotal <= bound,
        `${leader.maxOutstandingTotal} in flight, bound ${bound}`,
      );
      if (expectParallel) assert.ok(leader.maxOutstandingTotal > 2, "regions were sent in parallel");
    }
  });

  it("splits a region's share of a batch into requests of bounded size", async () => {
    const harness = await start([], { maxKeysPerRequest: 3 });
    const names = Array.from({ length: 10 }, (_, index) => `key${index}`);
    await harness.client.batchPut(names.map((name) => ({ key: key(name), value: key(name) })));
    assert.equal(harness.cluster.received.filter((request) => request.command === "rawBatchPut").length, 4);
    assert.deepEqual((await harness.client.batchGet(names.map(key))).map(text), names);
  });

  it("close ends a call sleeping in a backoff at once, with RawKvClientClosedError", async () => {
    const harness = await start(LETTER_SPLITS, { timers: systemTimers });
    harness.cluster.injected.push({
      command: "rawGet",
      times: 100,
      error: errorpb.Error.fromPartial({ serverIsBusy: { reason: "test" } }),
    });
    const pending = harness.client.get(key("k1"));
    // Sleeping, not merely sent: a call whose RPC is still in flight ends with the RPC's closed error.
    await waitFor(async () => (await harness.backoffs("serverBusy")) > 0);
    await harness.client.close();
    await assert.rejects(pending, RawKvClientClosedError);
    assert.equal(harness.cluster.received.length, 1, "the call stopped after the first serverBusy backoff");
  });

  it("refuses empty keys, reversed ranges and bad limits before sending, and every call after close", async () => {
    const harness = await start([]);
    await assert.rejects(harness.client.put(new Uint8Array(), key("v")), RawKvArgumentError);
    await assert.rejects(harness.client.scan(key("b"), key("a"), 10), RawKvArgumentError);
    await assert.rejects(harness.client.scan(key("a"), key("b"), 0), RawKvArgumentError);
    assert.deepEqual(await harness.client.scan(key("a"), key("a"), 10), []);
    assert.equal(harness.cluster.received.length, 0);
    await harness.client.close();
    await assert.rejects(harness.client.get(key("a")), RawKvClientClosedError);
  });
});
