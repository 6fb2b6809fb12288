import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { sleep } from "#runtime";
import { Scheduler } from "./scheduler.ts";
import { VirtualClock } from "./virtual-clock.ts";

function setup(): { scheduler: Scheduler; clock: VirtualClock } {
  const scheduler = new Scheduler();
  return { scheduler, clock: new VirtualClock(scheduler, { wallClockAtZeroMs: 1_000_000 }) };
}

describe("VirtualClock", () => {
  test("reads the scheduler's virtual time, offset for the wall clock", () => {
    const { scheduler, clock } = setup();
    scheduler.runFor(250);
    assert.equal(clock.monotonicMs(), 250);
    assert.equal(clock.nowMs(), 1_000_250);
  });

  test("setTimeout fires once, after its delay", () => {
    const { scheduler, clock } = setup();
    const firedAtMs: number[] = [];
    clock.setTimeout(() => firedAtMs.push(clock.monotonicMs()), 40);
    scheduler.runFor(39);
    assert.deepEqual(firedAtMs, []);
    scheduler.runUntilIdle();
    assert.deepEqual(firedAtMs, [40]);
  });

  test("a cancelled timeout never fires", () => {
    const { scheduler, clock } = setup();
    let fired = false;
    const handle = clock.setTimeout(() => {
      fired = true;
    }, 10);
    scheduler.runFor(5);
    handle.cancel();
    scheduler.runUntilIdle();
    assert.equal(fired, false);
  });

  test("setInterval fires every interval until cancelled", () => {
    const { scheduler, clock } = setup();
    const firedAtMs: number[] = [];
    const handle = clock.setInterval(() => firedAtMs.push(clock.monotonicMs()), 25);
    scheduler.runFor(100);
    handle.cancel();
    scheduler.runUntilIdle();
    assert.deepEqual(firedAtMs, [25, 50, 75, 100]);
    assert.equal(scheduler.pendingCount, 0);
  });

  test("an interval cancelled from its own callback stops", () => {
    const { scheduler, clock } = setup();
    let fired = 0;
    const handle = clock.setInterval(() => {
      fired++;
      if (fired === 3) handle.cancel();
    }, 10);
    scheduler.runUntilIdle(1000);
    assert.equal(fired, 3);
    assert.equal(clock.monotonicMs(), 30);
  });

  test("rejects an interval that would never let time advance", () => {
    const { clock } = setup();
    assert.throws(() => clock.setInterval(() => {}, 0), RangeError);
  });

  test("drives #runtime's sleep in virtual time", async () => {
    const { scheduler, clock } = setup();
    let woke = false;
    const sleeping = sleep(1000, clock).then(() => {
      woke = true;
    });
    scheduler.runFor(999);
    await Promise.resolve();
    assert.equal(woke, false);
    scheduler.runFor(1);
    await sleeping;
    assert.equal(woke, true);
  });
});
