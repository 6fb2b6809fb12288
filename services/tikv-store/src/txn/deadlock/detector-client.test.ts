/**
 * Detector clients of "different stores" against a detector served over real gRPC on 127.0.0.1: deadlock
 * found across stores, clean-ups, the detector moving to another store, and the detector disappearing.
 * Every test stops the servers and closes the clients it started, even when it fails (`t.after`).
 */
import assert from "node:assert/strict";
import { describe, it, type TestContext } from "node:test";
import { credentials, type ServiceError, status } from "@grpc/grpc-js";
import { deadlock } from "#proto";
import { SeededRandom, systemClock, systemTimers } from "#runtime";
import { DetectorServer } from "../../testing/deadlock/detector-server.ts";
import { silentLogger } from "../../testing/silent-observability.ts";
import { waitFor } from "../../testing/wait-for.ts";
import { keyHash } from "../lock-wait/key-hash.ts";
import { LockWaitManager, type LockWaitRequest } from "../lock-wait/lock-wait-manager.ts";
import type { DetectorLocation } from "./detect-stream.ts";
import { DeadlockDetector } from "./detector.ts";
import { type DetectOutcome, DetectorClient, type DetectorClientOptions } from "./detector-client.ts";

const FAST_BACKOFF = { baseMs: 10, capMs: 50 };

function edge(txn: number, waitForTxn: number, key = `key-${txn}-${waitForTxn}`) {
  const bytes = Buffer.from(key);
  return { txn: BigInt(txn), waitForTxn: BigInt(waitForTxn), keyHash: keyHash(bytes), key: bytes };
}

/** A client for store `storeId`, with its own (follower) detector, closed when the test ends. */
function startClient(
  t: TestContext,
  storeId: bigint,
  resolveDetector: () => Promise<DetectorLocation | undefined>,
  overrides: Partial<DetectorClientOptions> = {},
): DetectorClient {
  const logger = silentLogger();
  const client = new DetectorClient({
    storeId,
    localDetector: new DeadlockDetector({ storeId, clock: systemClock, logger }),
    resolveDetector,
    backoff: FAST_BACKOFF,
    timers: systemTimers,
    random: new SeededRandom(Number(storeId)),
    logger,
    ...overrides,
  });
  t.after(() => client.close());
  return client;
}

async function startServer(t: TestContext, storeId: bigint, options = {}): Promise<DetectorServer> {
  const server = await DetectorServer.start(storeId, options);
  t.after(() => server.stop());
  return server;
}

function assertUnavailable(outcome: DetectOutcome, reason: RegExp): void {
  assert.equal(outcome.kind, "unavailable");
  assert.match(outcome.kind === "unavailable" ? outcome.reason : "", reason);
}

function lockWaitRequest(startTs: number, lockTs: number, key: string, timeoutMs: number): LockWaitRequest {
  const bytes = Buffer.from(key);
  return {
    startTs: BigInt(startTs),
    key: bytes,
    keyHash: keyHash(bytes),
    lockTs: BigInt(lockTs),
    timeoutMs,
    isFirstLock: false,
  };
}

function startManager(t: TestContext, client: DetectorClient, timeoutOverrides = {}): LockWaitManager {
  const manager = new LockWaitManager({
    detection: client,
    clock: systemClock,
    timers: systemTimers,
    logger: silentLogger(),
    detectRefreshIntervalMs: 100,
    ...timeoutOverrides,
  });
  t.after(() => manager.close());
  return manager;
}

describe("deadlock detection over gRPC", () => {
  it("waiters on two stores waiting for each other: the second to wait is the victim", async (t) => {
    const detector = await startServer(t, 1n);
    const resolve = async () => detector.location;
    const store2 = startManager(t, startClient(t, 2n, resolve));
    const store3 = startManager(t, startClient(t, 3n, resolve));

    // Transaction 10 waits on store 2 for 20's lock on "a"; then 20 waits on store 3 for 10's lock on "b".
    const first = store2.wait(lockWaitRequest(10, 20, "a", 30_000));
    await waitFor("the first edge at the detector", () => detector.detector.entries()?.length === 1);
    const second = await store3.wait(lockWaitRequest(20, 10, "b", 30_000));

    assert.equal(second.kind, "deadlock");
    assert.equal(second.kind === "deadlock" && second.deadlockKeyHash, keyHash(Buffer.from("a")));
    assert.deepEqual(
      second.kind === "deadlock" && second.waitChain.map((entry) => [entry.txn, entry.waitForTxn, entry.key]),
      [
        [10n, 20n, Buffer.from("a")],
        [20n, 10n, Buffer.from("b")],
      ],
    );
    assert.equal(store2.size, 1, "the other waiter keeps waiting");
    store2.released([{ key: Buffer.from("a"), keyHash: keyHash(Buffer.from("a")), startTs: 20n }]);
    assert.deepEqual(await first, { kind: "woken", commitTs: undefined });
    await waitFor("the woken waiter's edge cleaned up", () => detector.detector.entries()?.length === 0);
  });

  it("the detector's own store calls it directly, without gRPC", async (t) => {
    const logger = silentLogger();
    const detector = new DeadlockDetector({ storeId: 1n, clock: systemClock, logger });
    detector.setRole(true);
    // Nothing listens at this address: only a local call can answer.
    const client = startClient(t, 1n, async () => ({ storeId: 1n, address: "127.0.0.1:1" }), {
      localDetector: detector,
    });
    assert.deepEqual(await client.detect(edge(1, 2)), { kind: "no-deadlock" });
    const found = await client.detect(edge(2, 1));
    assert.equal(found.kind, "deadlock");
    client.cleanUpWaitFor(edge(1, 2));
    assert.deepEqual(detector.entries(), []);
    assert.deepEqual(await client.detect(edge(2, 1)), { kind: "no-deadlock" });
    client.cleanUp(2n);
    assert.deepEqual(detector.entries(), []);
  });

  it("clean-ups reach the detector in order behind the detects", async (t) => {
    const server = await startServer(t, 1n);
    const client = startClient(t, 2n, async () => server.location);
    assert.deepEqual(await client.detect(edge(1, 2)), { kind: "no-deadlock" });
    assert.deepEqual(await client.detect(edge(1, 3)), { kind: "no-deadlock" });
    assert.deepEqual(await client.detect(edge(4, 1)), { kind: "no-deadlock" });
    client.cleanUpWaitFor(edge(1, 2));
    client.cleanUp(4n);
    await waitFor("the clean-ups applied", () => server.detector.entries()?.length === 1);
    assert.deepEqual(
      server.detector.entries()?.map((entry) => [entry.txn, entry.waitForTxn]),
      [[1n, 3n]],
    );
  });

  it("a detector that lost its role answers NOT_LEADER, and clients find the new one", async (t) => {
    const old = await startServer(t, 1n);
    const next = await startServer(t, 4n, { leader: false });
    let current = old.location;
    const client = startClient(t, 2n, async () => current);
    assert.deepEqual(await client.detect(edge(1, 2)), { kind: "no-deadlock" });

    old.detector.setRole(false);
    next.detector.setRole(true);
    current = next.location;
    assertUnavailable(await client.detect(edge(3, 4)), /store 1 was named the deadlock detector/);
    assert.deepEqual(old.detector.entries(), undefined, "the old detector dropped its graph");

    // The next detect after the backoff looks the detector up again.
    let outcome: DetectOutcome = { kind: "unavailable", reason: "not asked yet" };
    for (let attempt = 0; attempt < 100 && outcome.kind === "unavailable"; attempt++) {
      outcome = await client.detect(edge(3, 4));
      if (outcome.kind === "unavailable") await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.deepEqual(outcome, { kind: "no-deadlock" });
    assert.deepEqual(
      next.detector.entries()?.map((entry) => [entry.txn, entry.waitForTxn]),
      [[3n, 4n]],
    );
  });

  it("a stopped detector: detects end unavailable within a bounded time and waiters still time out", async (t) => {
    const server = await startServer(t, 1n);
    const client = startClient(t, 2n, async () => server.location, { detectTimeoutMs: 500 });
    assert.deepEqual(await client.detect(edge(1, 2)), { kind: "no-deadlock" });
    server.stop();

    const startedAtMs = Date.now();
    const outcome = await client.detect(edge(2, 3));
    assert.equal(outcome.kind, "unavailable");
    assert.ok(Date.now() - startedAtMs < 3_000, `took ${Date.now() - startedAtMs} ms`);

    const manager = startManager(t, client);
    const waitStartedAtMs = Date.now();
    assert.deepEqual(await manager.wait(lockWaitRequest(5, 6, "k", 400)), { kind: "timeout" });
    assert.ok(Date.now() - waitStartedAtMs < 2_000, `the wait took ${Date.now() - waitStartedAtMs} ms`);
    assert.equal(manager.size, 0);
  });

  it("no detector known, or nothing listening: unavailable, then backoff answers at once", async (t) => {
    const nobody = startClient(t, 2n, async () => undefined);
    assertUnavailable(await nobody.detect(edge(1, 2)), /no known leader/);
    assertUnavailable(await nobody.detect(edge(1, 2)), /retrying soon/);

    const refused = startClient(t, 3n, async () => ({ storeId: 9n, address: "127.0.0.1:1" }), {
      connectTimeoutMs: 300,
    });
    assertUnavailable(await refused.detect(edge(1, 2)), /cannot reach the deadlock detector/);
  });

  it("bounds what waits for a detector lookup that never ends, and close ends it all", async (t) => {
    const client = startClient(t, 2n, () => new Promise<never>(() => {}), {
      maxPendingRequests: 2,
      detectTimeoutMs: 60_000,
      connectTimeoutMs: 60_000,
    });
    const first = client.detect(edge(1, 2));
    const second = client.detect(edge(2, 3));
    assertUnavailable(await client.detect(edge(3, 4)), /2 deadlock detector requests already pending/);
    await client.close();
    assertUnavailable(await first, /closed/);
    assertUnavailable(await second, /closed/);
    assertUnavailable(await client.detect(edge(4, 5)), /closed/);
  });

  it("a detect that gets no answer in time ends unavailable", async (t) => {
    const client = startClient(t, 2n, () => new Promise<never>(() => {}), { detectTimeoutMs: 100 });
    assertUnavailable(await client.detect(edge(1, 2)), /not reached within 100 ms/);
  });

  it("a full graph refuses the edge without failing the stream", async (t) => {
    const server = await startServer(t, 1n, { maxEntries: 1 });
    const client = startClient(t, 2n, async () => server.location);
    assert.deepEqual(await client.detect(edge(1, 2)), { kind: "no-deadlock" });
    assertUnavailable(await client.detect(edge(3, 4)), /holds as many wait-for edges as it may/);
    assert.equal((await client.detect(edge(2, 1))).kind, "deadlock", "cycles are still found");
  });
});

describe("Deadlock service", () => {
  function rawClient(t: TestContext, server: DetectorServer): deadlock.DeadlockClient {
    const client = new deadlock.DeadlockClient(server.location.address, credentials.createInsecure());
    t.after(() => client.close());
    return client;
  }

  it("GetWaitForEntries lists the graph on the detector and says not-leader elsewhere", async (t) => {
    const leader = await startServer(t, 1n);
    const follower = await startServer(t, 2n, { leader: false });
    leader.detector.detect(edge(1, 2));
    const list = (server: DetectorServer) =>
      new Promise<deadlock.WaitForEntriesResponse>((resolve, reject) =>
        rawClient(t, server).getWaitForEntries({}, (error, response) =>
          error ? reject(error) : resolve(response),
        ),
      );
    const listed = await list(leader);
    assert.equal(listed.notLeader, false);
    assert.deepEqual(
      listed.entries.map((entry) => [entry.txn, entry.waitForTxn, Buffer.from(entry.key).toString()]),
      [[1n, 2n, "key-1-2"]],
    );
    assert.deepEqual(await list(follower), { notLeader: true, entries: [] });
  });

  it("fails a stream that sends a detect without its transactions with INVALID_ARGUMENT", async (t) => {
    const server = await startServer(t, 1n);
    const call = rawClient(t, server).detect();
    const failure = new Promise<ServiceError>((resolve) => call.on("error", resolve));
    call.write(deadlock.DeadlockRequest.fromPartial({ requestId: 1n, entry: { txn: 5n } }));
    const error = await failure;
    assert.equal(error.code, status.INVALID_ARGUMENT);
    assert.match(error.details, /wait_for_txn/);
    assert.deepEqual(server.detector.entries(), []);
  });
});
