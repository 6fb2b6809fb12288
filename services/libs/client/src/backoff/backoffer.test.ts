import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { SeededRandom } from "#runtime";
import { Scheduler, VirtualClock } from "#sim";
import { settle } from "../testing/virtual-time.ts";
import { BackoffBudgetExceededError } from "./backoff-budget-exceeded-error.ts";
import { type BackoffKind, BackoffKinds } from "./backoff-kind.ts";
import { Backoffer } from "./backoffer.ts";

function setup(budgetMs: number, signal?: AbortSignal) {
  const scheduler = new Scheduler();
  const clock = new VirtualClock(scheduler);
  const sleeps: Array<{ kind: string; sleepMs: number }> = [];
  const backoffer = new Backoffer({
    budgetMs,
    clock,
    timers: clock,
    random: new SeededRandom(7),
    signal,
    onSleep: (kind, sleepMs) => sleeps.push({ kind: kind.name, sleepMs }),
  });
  const backoff = (kind: BackoffKind, message: string) =>
    settle(scheduler, backoffer.backoff(kind, new Error(message)));
  return { scheduler, backoffer, sleeps, backoff };
}

/** Backs off until the budget runs out and returns the error (asserting it came). */
async function exhaust(
  backoff: (kind: BackoffKind, message: string) => Promise<void>,
  kinds: readonly BackoffKind[],
): Promise<{ error: BackoffBudgetExceededError; calls: number }> {
  for (let call = 0; call < 10_000; call++) {
    try {
      await backoff(kinds[call % kinds.length]!, `failure ${call}`);
    } catch (error) {
      assert.ok(error instanceof BackoffBudgetExceededError, `unexpected ${String(error)}`);
      return { error, calls: call + 1 };
    }
  }
  assert.fail("the budget never ran out");
}

describe("Backoffer", () => {
  it("sleeps the kind's schedule on virtual time, doubling up to the cap", async () => {
    const { scheduler, sleeps, backoff } = setup(60_000);
    for (let attempt = 0; attempt < 11; attempt++) await backoff(BackoffKinds.regionMiss, "miss");
    const expected = [2, 4, 8, 16, 32, 64, 128, 256, 500, 500, 500];
    assert.deepEqual(
      sleeps.map((sleep) => sleep.sleepMs),
      expected,
    );
    assert.equal(
      scheduler.nowMs,
      expected.reduce((sum, ms) => sum + ms),
    );
  });

  it("counts attempts per kind, so one kind's failures do not lengthen another's sleeps", async () => {
    const { backoffer, sleeps, backoff } = setup(60_000);
    for (let attempt = 0; attempt < 5; attempt++) await backoff(BackoffKinds.regionMiss, "miss");
    await backoff(BackoffKinds.staleCmd, "stale");
    assert.equal(backoffer.attempts(BackoffKinds.regionMiss), 5);
    assert.equal(backoffer.attempts(BackoffKinds.staleCmd), 1);
    assert.deepEqual(sleeps.at(-1), { kind: "staleCmd", sleepMs: 2 });
  });

  it("equal-jitter kinds grow towards their cap and never pass it", async () => {
    const { sleeps, backoff } = setup(1_000_000);
    for (let attempt = 0; attempt < 12; attempt++) await backoff(BackoffKinds.tikvRPC, "send failed");
    assert.ok(sleeps.every(({ sleepMs }) => sleepMs < 2000));
    const first = sleeps[0]!.sleepMs;
    assert.ok(first >= 50 && first < 100, `first sleep ${first}`);
    for (const { sleepMs } of sleeps.slice(6))
      assert.ok(sleepMs >= 1000 && sleepMs < 2000, `capped sleep ${sleepMs}`);
  });

  it("does not count serverBusy sleeps against the budget", async () => {
    const { backoffer, sleeps, backoff } = setup(100);
    for (let attempt = 0; attempt < 3; attempt++) await backoff(BackoffKinds.serverBusy, "busy");
    assert.equal(backoffer.countedSleepMs, 0);
    assert.ok(sleeps.every((sleep) => sleep.sleepMs >= 1000));
    const { error } = await exhaust(backoff, [BackoffKinds.regionMiss]);
    assert.equal(error.countedSleepMs, 100);
    assert.ok((error.sleptMsByKind.get("serverBusy") ?? 0) >= 3000);
  });

  it("fails with every cause in order and the time slept per kind once the budget is spent", async () => {
    const { backoffer, sleeps, backoff } = setup(3000);
    const { error, calls } = await exhaust(backoff, [BackoffKinds.tikvRPC, BackoffKinds.regionMiss]);
    assert.equal(error.budgetMs, 3000);
    assert.equal(error.countedSleepMs, 3000, "the last sleep is cut to what is left of the budget");
    assert.equal(error.causes.length, calls);
    assert.deepEqual(
      error.causes.map((cause) => cause.error.message),
      Array.from({ length: calls }, (_, call) => `failure ${call}`),
    );
    const messageLines = error.message.split("\n");
    for (let call = 0; call < calls; call++) {
      const kind = call % 2 === 0 ? "tikvRPC" : "regionMiss";
      assert.equal(messageLines[call + 2], `  ${call + 1}. [${kind}] Error: failure ${call}`);
    }
    for (const kind of ["tikvRPC", "regionMiss"]) {
      const sleptMs = sleeps
        .filter((sleep) => sleep.kind === kind)
        .reduce((sum, sleep) => sum + sleep.sleepMs, 0);
      assert.equal(error.sleptMsByKind.get(kind), sleptMs);
      assert.match(error.message, new RegExp(`${kind} ${sleptMs} ms`));
    }
    assert.equal(error.cause, error.causes.at(-1)?.error);
    assert.equal(backoffer.causes.length, calls);
  });

  it("a zero budget fails on the first counted backoff without sleeping", async () => {
    const { scheduler, backoff } = setup(0);
    const { error, calls } = await exhaust(backoff, [BackoffKinds.staleCmd]);
    assert.equal(calls, 1);
    assert.equal(error.sleptMsByKind.get("staleCmd"), 0);
    assert.equal(scheduler.nowMs, 0);
  });

  it("a fork starts from its parent's sleeps, causes and attempts, then spends on its own", async () => {
    const { scheduler, backoffer, backoff } = setup(1000);
    await backoff(BackoffKinds.regionMiss, "parent miss");
    const parentSleptMs = backoffer.countedSleepMs;
    const fork = backoffer.fork();
    const forkBackoff = (kind: BackoffKind, message: string) =>
      settle(scheduler, fork.backoff(kind, new Error(message)));
    assert.equal(fork.attempts(BackoffKinds.regionMiss), 1, "a fork starts from its parent's progress");
    assert.equal(fork.countedSleepMs, parentSleptMs, "the parent's sleeps count against the fork's budget");
    const { error } = await exhaust(forkBackoff, [BackoffKinds.staleCmd]);
    assert.equal(fork.countedSleepMs, 1000, "the fork spent what was left");
    assert.equal(error.causes[0]?.error.message, "parent miss", "the fork's error tells the whole story");
    // A sibling's sleeps do not count against the parent (or another sibling): each chain waits alone.
    assert.equal(backoffer.countedSleepMs, parentSleptMs);
    assert.equal(backoffer.attempts(BackoffKinds.staleCmd), 0);
    await backoff(BackoffKinds.regionMiss, "parent again");
    assert.ok(backoffer.countedSleepMs > parentSleptMs);
  });

  it("an abort stops a sleep at once and leaves no timer behind", async () => {
    const controller = new AbortController();
    const { scheduler, backoff } = setup(60_000, controller.signal);
    scheduler.schedule(700, () => controller.abort(new Error("request cancelled")));
    await assert.rejects(backoff(BackoffKinds.serverBusy, "busy"), /request cancelled/);
    assert.equal(scheduler.nowMs, 700);
    assert.equal(scheduler.pendingCount, 0);
    await assert.rejects(backoff(BackoffKinds.regionMiss, "miss"), /request cancelled/);
  });

  it("a fork can take its own signal", async () => {
    const { scheduler, backoffer } = setup(60_000);
    const controller = new AbortController();
    const fork = backoffer.fork(controller.signal);
    controller.abort(new Error("sub-request cancelled"));
    await assert.rejects(
      settle(scheduler, fork.backoff(BackoffKinds.regionMiss, new Error("miss"))),
      /sub-request cancelled/,
    );
    await settle(scheduler, backoffer.backoff(BackoffKinds.regionMiss, new Error("miss")));
  });

  it("rejects a negative or infinite budget", () => {
    const scheduler = new Scheduler();
    const clock = new VirtualClock(scheduler);
    for (const budgetMs of [-1, Number.POSITIVE_INFINITY, Number.NaN]) {
      assert.throws(
        () => new Backoffer({ budgetMs, clock, timers: clock, random: new SeededRandom(1) }),
        RangeError,
      );
    }
  });
});
