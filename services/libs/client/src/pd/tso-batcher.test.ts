import assert from "node:assert/strict";
import { afterEach, describe, test } from "node:test";
import { LOGICAL_LIMIT, splitTimestamp } from "#codec";
import { TestPdServer } from "../testing/pd-server.ts";
import { PdClient } from "./pd-client.ts";
import type { PdClientOptions } from "./pd-client-options.ts";
import {
  PdClientClosedError,
  PdProtocolError,
  PdUnavailableError,
  TsoDeadlineExceededError,
  TsoQueueFullError,
} from "./pd-errors.ts";

const CLUSTER_ID = 7n;
const FAST_BACKOFF = { baseMs: 5, capMs: 50 };

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function startPd(options: { initialLogical?: bigint } = {}): Promise<TestPdServer> {
  const pd = await TestPdServer.start({ clusterId: CLUSTER_ID, name: "pd-a", ...options });
  cleanups.push(() => pd.close());
  return pd;
}

async function connect(pd: TestPdServer, options: Partial<PdClientOptions> = {}): Promise<PdClient> {
  const client = await PdClient.connect({
    endpoints: [pd.address],
    reconnectBackoff: FAST_BACKOFF,
    ...options,
  });
  cleanups.push(() => client.close());
  return client;
}

function assertStrictlyIncreasing(timestamps: readonly bigint[]): void {
  for (let index = 1; index < timestamps.length; index++) {
    assert.ok(
      timestamps[index]! > timestamps[index - 1]!,
      `timestamp ${index} (${timestamps[index]}) is not above ${timestamps[index - 1]}`,
    );
  }
}

describe("TSO batching", () => {
  test("100 concurrent callers share one TsoRequest with count 100", async () => {
    const pd = await startPd();
    const client = await connect(pd);

    const timestamps = await Promise.all(Array.from({ length: 100 }, () => client.getTimestamp()));

    assert.deepEqual(pd.tsoCounts, [100]);
    assert.equal(new Set(timestamps).size, 100);
    assertStrictlyIncreasing(timestamps);
  });

  test("callers get distinct increasing timestamps in call order, across batches and a logical overflow", async () => {
    // 150 timestamps fit before the logical field is full, so the second batch must move to the next millisecond.
    const pd = await startPd({ initialLogical: BigInt(LOGICAL_LIMIT - 150) });
    const client = await connect(pd);

    const first = await Promise.all(Array.from({ length: 100 }, () => client.getTimestamp()));
    const second = await Promise.all(Array.from({ length: 100 }, () => client.getTimestamp()));

    const all = [...first, ...second];
    assertStrictlyIncreasing(all);
    assert.equal(splitTimestamp(first.at(-1)!).logical, BigInt(LOGICAL_LIMIT - 51));
    assert.equal(splitTimestamp(second[0]!).physicalMs, splitTimestamp(first[0]!).physicalMs + 1n);
    assert.equal(splitTimestamp(second[0]!).logical, 0n);
  });

  test("a queue longer than tsoMaxBatchSize goes out as several requests, at most tsoMaxInFlightBatches at once", async () => {
    const pd = await startPd();
    const client = await connect(pd, { tsoMaxBatchSize: 10, tsoMaxInFlightBatches: 2 });
    pd.mode = "hold";

    const pending = Promise.all(Array.from({ length: 35 }, () => client.getTimestamp()));
    while (pd.tsoCounts.length < 2) await new Promise((resolve) => setTimeout(resolve, 5));
    const sentBeforeAnswers = [...pd.tsoCounts];
    pd.releaseHeld();
    const timestamps = await pending;

    assert.deepEqual(sentBeforeAnswers, [10, 10]);
    assert.deepEqual(pd.tsoCounts, [10, 10, 10, 5]);
    assertStrictlyIncreasing(timestamps);
  });

  test("sequential callers each get a timestamp above the previous one", async () => {
    const pd = await startPd();
    const client = await connect(pd);
    const timestamps: bigint[] = [];
    for (let round = 0; round < 20; round++) timestamps.push(await client.getTimestamp());
    assertStrictlyIncreasing(timestamps);
    assert.equal(pd.tsoStreamsOpened, 1);
  });

  test("a call fails with TsoDeadlineExceededError when pd never answers", async () => {
    const pd = await startPd();
    pd.mode = "silent";
    const client = await connect(pd);

    await assert.rejects(client.getTimestamp({ timeoutMs: 100 }), (error: unknown) => {
      assert.ok(error instanceof TsoDeadlineExceededError);
      assert.equal(error.timeoutMs, 100);
      return true;
    });
  });

  test("a broken stream fails the requests sent on it, and the next call succeeds on a new stream", async () => {
    const pd = await startPd();
    pd.mode = "silent";
    const client = await connect(pd);
    const pending = Array.from({ length: 5 }, () => client.getTimestamp());
    while (pd.tsoCounts.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));

    pd.breakStreams();
    const outcomes = await Promise.allSettled(pending);
    pd.mode = "serve";
    const next = await client.getTimestamp();

    for (const outcome of outcomes) {
      assert.equal(outcome.status, "rejected");
      assert.ok(outcome.reason instanceof PdUnavailableError, String(outcome.reason));
      assert.deepEqual(outcome.reason.endpoints, [pd.address]);
    }
    assert.equal(typeof next, "bigint");
    assert.equal(pd.tsoStreamsOpened, 2);
  });

  test("NOT_LEADER on the stream requeues the batch once and the named leader serves it", async () => {
    const follower = await startPd();
    const leader = await startPd();
    follower.leaderHint = follower.member;
    const client = await connect(follower);
    follower.mode = "not-leader";
    follower.leaderHint = leader.member;

    const timestamps = await Promise.all(Array.from({ length: 10 }, () => client.getTimestamp()));

    assert.deepEqual(follower.tsoCounts, [10]);
    assert.deepEqual(leader.tsoCounts, [10]);
    assertStrictlyIncreasing(timestamps);
    assert.equal(client.leaderAddress, leader.address);
  });

  test("an answer with the wrong number of timestamps fails the batch with PdProtocolError", async () => {
    const pd = await startPd();
    pd.mode = "wrong-count";
    const client = await connect(pd);

    await assert.rejects(client.getTimestamp(), PdProtocolError);
  });

  test("callers beyond tsoMaxPendingRequests fail fast with TsoQueueFullError", async () => {
    const pd = await startPd();
    pd.mode = "silent";
    const client = await connect(pd, { tsoMaxPendingRequests: 3 });

    const accepted = Array.from({ length: 3 }, () => client.getTimestamp({ timeoutMs: 200 }));
    await assert.rejects(client.getTimestamp(), TsoQueueFullError);
    await Promise.allSettled(accepted);
  });

  test("close fails every waiting caller with PdClientClosedError", async () => {
    const pd = await startPd();
    pd.mode = "silent";
    const client = await connect(pd);
    const pending = Array.from({ length: 3 }, () => client.getTimestamp());

    await client.close();

    for (const outcome of await Promise.allSettled(pending)) {
      assert.equal(outcome.status, "rejected");
      assert.ok(outcome.reason instanceof PdClientClosedError);
    }
    await assert.rejects(client.getTimestamp(), PdClientClosedError);
  });
});
