import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Scheduler, VirtualClock } from "#sim";
import { silentLogger } from "../../testing/silent-observability.ts";
import type { WaitForEdgeId } from "../deadlock/detector.ts";
import type { DeadlockDetection, DetectOutcome } from "../deadlock/detector-client.ts";
import type { WaitForEdge } from "../deadlock/wait-for-graph.ts";
import { keyHash } from "./key-hash.ts";
import {
  LockWaitManager,
  type LockWaitManagerOptions,
  type LockWaitRequest,
  type WaitOutcome,
} from "./lock-wait-manager.ts";

const WAKE_UP_DELAY_MS = 20;
const REFRESH_MS = 1_000;

/** Detection answered by the test: each detect waits until the test settles it (or answers at once). */
class FakeDetection implements DeadlockDetection {
  readonly detects: WaitForEdge[] = [];
  readonly cleanUps: WaitForEdgeId[] = [];
  private readonly unanswered: ((outcome: DetectOutcome) => void)[] = [];

  constructor(private readonly answer?: (edge: WaitForEdge) => DetectOutcome) {}

  detect(edge: WaitForEdge): Promise<DetectOutcome> {
    this.detects.push(edge);
    if (this.answer !== undefined) return Promise.resolve(this.answer(edge));
    return new Promise((resolve) => this.unanswered.push(resolve));
  }

  cleanUpWaitFor(edge: WaitForEdgeId): void {
    this.cleanUps.push({ txn: edge.txn, waitForTxn: edge.waitForTxn, keyHash: edge.keyHash });
  }

  settleAll(outcome: DetectOutcome): void {
    for (const resolve of this.unanswered.splice(0)) resolve(outcome);
  }
}

function harness(detection: DeadlockDetection, options: Partial<LockWaitManagerOptions> = {}) {
  const scheduler = new Scheduler();
  const clock = new VirtualClock(scheduler);
  const ended: { outcome: WaitOutcome; durationMs: number }[] = [];
  let deadlocks = 0;
  const manager = new LockWaitManager({
    detection,
    clock,
    timers: clock,
    logger: silentLogger(),
    wakeUpDelayMs: WAKE_UP_DELAY_MS,
    detectRefreshIntervalMs: REFRESH_MS,
    observer: {
      onWaitEnded: (outcome, durationMs) => ended.push({ outcome, durationMs }),
      onDeadlock: () => deadlocks++,
    },
    ...options,
  });
  return { scheduler, manager, ended, deadlocks: () => deadlocks };
}

function request(startTs: number, lockTs: number, key = "k", overrides: Partial<LockWaitRequest> = {}) {
  const bytes = Buffer.from(key);
  return {
    startTs: BigInt(startTs),
    key: bytes,
    keyHash: keyHash(bytes),
    lockTs: BigInt(lockTs),
    timeoutMs: 10_000,
    isFirstLock: false,
    ...overrides,
  };
}

/** Lets promise continuations (detect answers, task bodies) run. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Tracks a wait's outcome without awaiting it. */
function track(promise: Promise<WaitOutcome>): { outcome?: WaitOutcome } {
  const tracked: { outcome?: WaitOutcome } = {};
  promise.then((outcome) => {
    tracked.outcome = outcome;
  });
  return tracked;
}

describe("LockWaitManager", () => {
  it("a release wakes the oldest waiter at once and the others after the wake-up delay", async () => {
    const { scheduler, manager } = harness(new FakeDetection(() => ({ kind: "no-deadlock" })));
    const young = track(manager.wait(request(30, 10)));
    const old = track(manager.wait(request(20, 10)));
    const otherHolder = track(manager.wait(request(40, 11)));
    const otherKeySameHash = track(
      manager.wait({ ...request(50, 10, "other"), keyHash: keyHash(Buffer.from("k")) }),
    );
    assert.equal(manager.size, 4);

    manager.released([
      { key: Buffer.from("k"), keyHash: keyHash(Buffer.from("k")), startTs: 10n, commitTs: 15n },
    ]);
    await settle();
    assert.deepEqual(old.outcome, { kind: "woken", commitTs: 15n });
    assert.equal(young.outcome, undefined);

    scheduler.runFor(WAKE_UP_DELAY_MS - 1);
    await settle();
    assert.equal(young.outcome, undefined);
    scheduler.runFor(1);
    await settle();
    assert.deepEqual(young.outcome, { kind: "woken", commitTs: 15n });
    assert.equal(otherHolder.outcome, undefined, "a waiter on another holder's lock keeps waiting");
    assert.equal(otherKeySameHash.outcome, undefined, "a hash collision wakes nobody");
    assert.equal(manager.size, 2);
    await manager.close();
  });

  it("a repeated release does not wake the delayed waiters early", async () => {
    const { scheduler, manager } = harness(new FakeDetection(() => ({ kind: "no-deadlock" })));
    const first = track(manager.wait(request(1, 10)));
    const second = track(manager.wait(request(2, 10)));
    const release = { key: Buffer.from("k"), keyHash: keyHash(Buffer.from("k")), startTs: 10n };
    manager.released([release]);
    manager.released([release]);
    await settle();
    assert.deepEqual(first.outcome, { kind: "woken", commitTs: undefined });
    assert.equal(second.outcome, undefined);
    scheduler.runFor(WAKE_UP_DELAY_MS);
    await settle();
    assert.deepEqual(second.outcome, { kind: "woken", commitTs: undefined });
  });

  it("times out after timeoutMs and cleans its edge up on the detector", async () => {
    const detection = new FakeDetection(() => ({ kind: "no-deadlock" }));
    const { scheduler, manager, ended } = harness(detection);
    const waiting = track(manager.wait(request(20, 10, "k", { timeoutMs: 500 })));
    await settle();
    assert.equal(detection.detects.length, 1);
    scheduler.runFor(499);
    await settle();
    assert.equal(waiting.outcome, undefined);
    scheduler.runFor(1);
    await settle();
    assert.deepEqual(waiting.outcome, { kind: "timeout" });
    assert.deepEqual(detection.cleanUps, [{ txn: 20n, waitForTxn: 10n, keyHash: keyHash(Buffer.from("k")) }]);
    assert.deepEqual(ended, [{ outcome: { kind: "timeout" }, durationMs: 500 }]);
    assert.equal(manager.size, 0);
  });

  it("a first lock is never sent to the detector, so there is nothing to clean up", async () => {
    const detection = new FakeDetection(() => ({ kind: "no-deadlock" }));
    const { scheduler, manager } = harness(detection);
    const waiting = track(manager.wait(request(20, 10, "k", { timeoutMs: 3_000, isFirstLock: true })));
    scheduler.runFor(3_000);
    await settle();
    assert.deepEqual(waiting.outcome, { kind: "timeout" });
    assert.equal(detection.detects.length, 0);
    assert.equal(detection.cleanUps.length, 0);
  });

  it("ends with the deadlock the detector found, the waiter's own edge closing the chain", async () => {
    const chainEntry = { txn: 10n, waitForTxn: 20n, keyHash: 99n, key: Buffer.from("mine"), waitTimeMs: 7n };
    const detection = new FakeDetection(() => ({
      kind: "deadlock",
      deadlockKeyHash: 99n,
      deadlockKey: Buffer.from("mine"),
      waitChain: [chainEntry],
    }));
    const { manager, deadlocks } = harness(detection);
    const outcome = await manager.wait(request(20, 10));
    assert.deepEqual(outcome, {
      kind: "deadlock",
      lockTs: 10n,
      lockKey: Buffer.from("k"),
      deadlockKeyHash: 99n,
      waitChain: [
        chainEntry,
        {
          txn: 20n,
          waitForTxn: 10n,
          keyHash: keyHash(Buffer.from("k")),
          key: Buffer.from("k"),
          waitTimeMs: 0n,
        },
      ],
    });
    assert.equal(deadlocks(), 1);
    assert.equal(detection.cleanUps.length, 1, "the edge is cleaned up, as after any end");
  });

  it("refreshes its edge while it waits, and a refresh that finds a deadlock ends the wait", async () => {
    let answer: DetectOutcome = { kind: "unavailable", reason: "no detector yet" };
    const detection = new FakeDetection(() => answer);
    const { scheduler, manager } = harness(detection);
    const waiting = track(manager.wait(request(20, 10)));
    await settle();
    assert.equal(detection.detects.length, 1);
    scheduler.runFor(REFRESH_MS);
    await settle();
    assert.equal(detection.detects.length, 2, "an unavailable detector is asked again");
    answer = { kind: "no-deadlock" };
    scheduler.runFor(REFRESH_MS);
    await settle();
    assert.equal(detection.detects.length, 3);
    answer = { kind: "deadlock", deadlockKeyHash: 1n, deadlockKey: Buffer.from("x"), waitChain: [] };
    scheduler.runFor(REFRESH_MS);
    await settle();
    assert.equal(waiting.outcome?.kind, "deadlock");
    scheduler.runFor(10 * REFRESH_MS);
    await settle();
    assert.equal(detection.detects.length, 4, "an ended waiter refreshes nothing");
  });

  it("keeps at most one detect in flight per waiter", async () => {
    const detection = new FakeDetection();
    const { scheduler, manager } = harness(detection);
    track(manager.wait(request(20, 10)));
    scheduler.runFor(5 * REFRESH_MS);
    await settle();
    assert.equal(detection.detects.length, 1);
    detection.settleAll({ kind: "no-deadlock" });
    await settle();
    scheduler.runFor(REFRESH_MS);
    await settle();
    assert.equal(detection.detects.length, 2);
    await manager.close();
  });

  it("an aborted signal cancels the wait, and an already aborted one never starts it", async () => {
    const detection = new FakeDetection(() => ({ kind: "no-deadlock" }));
    const { manager } = harness(detection);
    const controller = new AbortController();
    const waiting = manager.wait(request(20, 10, "k", { signal: controller.signal }));
    controller.abort();
    assert.deepEqual(await waiting, { kind: "cancelled" });
    assert.deepEqual(await manager.wait(request(21, 10, "k", { signal: controller.signal })), {
      kind: "cancelled",
    });
    assert.equal(manager.size, 0);
  });

  it("close cancels every waiter, does not wait for unanswered detects, and refuses later waits", async () => {
    const detection = new FakeDetection();
    const { manager, scheduler, ended } = harness(detection);
    const first = manager.wait(request(20, 10));
    const second = manager.wait(request(21, 10, "j", { isFirstLock: true }));
    await settle();
    await manager.close();
    assert.deepEqual(await first, { kind: "cancelled" });
    assert.deepEqual(await second, { kind: "cancelled" });
    assert.equal(scheduler.pendingCount, 0, "no timer is left behind");
    assert.deepEqual(await manager.wait(request(22, 10)), { kind: "cancelled" });
    assert.equal(ended.length, 3);
    assert.equal(detection.cleanUps.length, 1, "only the detected waiter had an edge to clean up");
  });

  it("refuses waiters beyond its bound until one ends", async () => {
    const { manager } = harness(new FakeDetection(() => ({ kind: "no-deadlock" })), { maxWaiters: 2 });
    const controller = new AbortController();
    manager.wait(request(1, 10, "a", { signal: controller.signal }));
    manager.wait(request(2, 10, "b"));
    assert.deepEqual(await manager.wait(request(3, 10, "c")), { kind: "too-many-waiters", maxWaiters: 2 });
    controller.abort();
    const fourth = track(manager.wait(request(4, 10, "d")));
    await settle();
    assert.equal(fourth.outcome, undefined, "room again once a waiter ended");
    assert.equal(manager.size, 2);
    await manager.close();
  });

  it("a zero timeout ends at once; a negative or infinite one is a caller bug", async () => {
    const { manager } = harness(new FakeDetection(() => ({ kind: "no-deadlock" })));
    assert.deepEqual(await manager.wait(request(1, 10, "k", { timeoutMs: 0 })), { kind: "timeout" });
    assert.throws(() => manager.wait(request(1, 10, "k", { timeoutMs: -1 })), RangeError);
    assert.throws(
      () => manager.wait(request(1, 10, "k", { timeoutMs: Number.POSITIVE_INFINITY })),
      RangeError,
    );
    assert.throws(() => new LockWaitManager({ ...harnessOptions(), maxWaiters: 0 }), RangeError);
  });
});

function harnessOptions(): LockWaitManagerOptions {
  const clock = new VirtualClock(new Scheduler());
  return { detection: new FakeDetection(), clock, timers: clock, logger: silentLogger() };
}
