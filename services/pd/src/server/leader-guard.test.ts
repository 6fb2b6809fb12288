import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createLogger } from "#observability";
import { Scheduler, VirtualClock } from "#sim";
import { MemoryPdGroup, testMember } from "../testing/memory-backend.ts";
import { LeaderGuard, NotLeaderServingError } from "./leader-guard.ts";

function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function deferred() {
  let resolve: () => void = () => {};
  let reject: (error: Error) => void = () => {};
  const promise = new Promise<void>((onResolve, onReject) => {
    resolve = onResolve;
    reject = onReject;
  });
  return { promise, resolve, reject };
}

function setup() {
  const group = new MemoryPdGroup();
  const self = testMember("pd-a", 1n);
  const other = testMember("pd-b", 2n);
  const backend = group.join(self);
  group.join(other);
  const scheduler = new Scheduler();
  const clock = new VirtualClock(scheduler);
  const startups: Array<ReturnType<typeof deferred>> = [];
  let teardowns = 0;
  const guard = new LeaderGuard({
    election: backend.election,
    startup: () => {
      const attempt = deferred();
      startups.push(attempt);
      return attempt.promise;
    },
    teardown: () => {
      teardowns++;
    },
    timers: clock,
    logger: createLogger({ component: "pd", level: "silent" }),
    readyTimeoutMs: 5_000,
    startupRetryMs: 1_000,
  });
  guard.start();
  return { group, guard, scheduler, startups, teardowns: () => teardowns };
}

describe("LeaderGuard", () => {
  it("refuses followers with the leader's identity", async () => {
    const { group, guard } = setup();
    group.elect(2n);
    await assert.rejects(guard.ensureLeader(), (error: unknown) => {
      assert.ok(error instanceof NotLeaderServingError);
      assert.equal(error.leader?.name, "pd-b");
      return true;
    });
  });

  it("holds requests until start-up finishes, then serves", async () => {
    const { group, guard, startups } = setup();
    group.elect(1n);
    await settle();
    assert.equal(startups.length, 1);
    let served = false;
    const waiting = guard.ensureLeader().then(() => {
      served = true;
    });
    await settle();
    assert.equal(served, false);
    startups[0]!.resolve();
    await waiting;
    assert.equal(guard.isReady, true);
  });

  it("retries a failed start-up while still leader", async () => {
    const { group, guard, scheduler, startups } = setup();
    group.elect(1n);
    await settle();
    startups[0]!.reject(new Error("storage unavailable"));
    await settle();
    assert.equal(guard.isReady, false);
    scheduler.runFor(1_000);
    await settle();
    assert.equal(startups.length, 2);
    startups[1]!.resolve();
    await settle();
    assert.equal(guard.isReady, true);
  });

  it("stops at once when leadership is lost, refusing waiting requests", async () => {
    const { group, guard, startups, teardowns } = setup();
    group.elect(1n);
    await settle();
    startups[0]!.resolve();
    await guard.ensureLeader();
    group.elect(2n);
    assert.equal(guard.isReady, false);
    assert.equal(teardowns(), 1);
    await assert.rejects(guard.ensureLeader(), NotLeaderServingError);

    group.elect(1n);
    await settle();
    const waiting = guard.ensureLeader();
    group.elect(2n);
    await assert.rejects(waiting, NotLeaderServingError);
    await settle();
    // The start-up that was overtaken by the loss must not make this member serve.
    startups[1]!.resolve();
    await settle();
    assert.equal(guard.isReady, false);
    // Whatever that start-up set up after the loss is torn down again.
    assert.equal(teardowns(), 3);
  });
  it("close waits for a start-up in progress, and what that start-up set up is torn down", async () => {
    const { group, guard, startups, teardowns } = setup();
    group.elect(1n);
    await settle();
    let closed = false;
    const closing = guard.close().then(() => {
      closed = true;
    });
    await settle();
    assert.equal(closed, false, "the start-up still loads state from the backend");
    assert.equal(teardowns(), 1, "serving stopped at once");
    startups[0]!.resolve();
    await closing;
    assert.equal(guard.isReady, false);
    assert.equal(teardowns(), 2, "the overtaken start-up's set-up is undone before close resolves");
  });
});
