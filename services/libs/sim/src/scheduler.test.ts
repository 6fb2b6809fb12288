import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { EventLimitExceededError, PendingEventLimitError, Scheduler } from "./scheduler.ts";

describe("Scheduler ordering", () => {
  test("runs events in time order and events due at the same time first-in first-out", () => {
    const scheduler = new Scheduler();
    const ran: string[] = [];
    scheduler.schedule(20, () => ran.push("late"));
    scheduler.schedule(10, () => ran.push("a"));
    scheduler.schedule(10, () => ran.push("b"));
    scheduler.schedule(0, () => ran.push("now"));
    scheduler.schedule(10, () => ran.push("c"));
    scheduler.runUntilIdle();
    assert.deepEqual(ran, ["now", "a", "b", "c", "late"]);
  });

  test("an event scheduled with zero delay from a callback runs after events already due at that time", () => {
    const scheduler = new Scheduler();
    const ran: string[] = [];
    scheduler.schedule(5, () => {
      ran.push("first");
      scheduler.schedule(0, () => ran.push("spawned"));
    });
    scheduler.schedule(5, () => ran.push("second"));
    scheduler.runUntilIdle();
    assert.deepEqual(ran, ["first", "second", "spawned"]);
  });

  test("virtual time moves only to the time of the event being run", () => {
    const scheduler = new Scheduler({ startMs: 100 });
    const seenAtMs: number[] = [];
    scheduler.schedule(7, () => seenAtMs.push(scheduler.nowMs));
    scheduler.schedule(30, () => seenAtMs.push(scheduler.nowMs));
    assert.equal(scheduler.nowMs, 100);
    assert.equal(scheduler.nextEventAtMs(), 107);
    assert.equal(scheduler.step(), true);
    assert.equal(scheduler.nowMs, 107);
    scheduler.runUntilIdle();
    assert.deepEqual(seenAtMs, [107, 130]);
    assert.equal(scheduler.step(), false);
    assert.equal(scheduler.executedCount, 2);
  });

  test("matches a stable sort by time for any schedule with cancellations", () => {
    const eventArbitrary = fc.record({ delayMs: fc.integer({ min: 0, max: 50 }), cancel: fc.boolean() });
    fc.assert(
      fc.property(fc.array(eventArbitrary, { maxLength: 200 }), (events) => {
        const scheduler = new Scheduler();
        const ran: number[] = [];
        const handles = events.map((event, index) =>
          scheduler.schedule(event.delayMs, () => ran.push(index)),
        );
        events.forEach((event, index) => {
          if (event.cancel) handles[index]!.cancel();
        });
        scheduler.runUntilIdle();
        const expected = events
          .map((event, index) => ({ ...event, index }))
          .filter((event) => !event.cancel)
          .sort((left, right) => left.delayMs - right.delayMs || left.index - right.index)
          .map((event) => event.index);
        assert.deepEqual(ran, expected);
      }),
    );
  });
});

describe("Scheduler cancellation", () => {
  test("a cancelled event does not run and no longer counts as pending; cancelling twice is harmless", () => {
    const scheduler = new Scheduler();
    let ran = false;
    const handle = scheduler.schedule(10, () => {
      ran = true;
    });
    assert.equal(scheduler.pendingCount, 1);
    handle.cancel();
    handle.cancel();
    assert.equal(scheduler.pendingCount, 0);
    assert.equal(scheduler.nextEventAtMs(), undefined);
    assert.equal(scheduler.runUntilIdle(), 0);
    assert.equal(ran, false);
  });

  test("cancelling an event that already ran changes nothing", () => {
    const scheduler = new Scheduler();
    const handle = scheduler.schedule(1, () => {});
    scheduler.schedule(2, () => {});
    scheduler.step();
    handle.cancel();
    assert.equal(scheduler.pendingCount, 1);
  });

  test("mass cancellation keeps the survivors in order", () => {
    const scheduler = new Scheduler();
    const ran: number[] = [];
    const handles = Array.from({ length: 5000 }, (_, index) =>
      scheduler.schedule(5000 - index, () => ran.push(index)),
    );
    handles.forEach((handle, index) => {
      if (index % 10 !== 0) handle.cancel();
    });
    assert.equal(scheduler.pendingCount, 500);
    scheduler.runUntilIdle();
    const expected = Array.from({ length: 500 }, (_, slot) => 4990 - slot * 10);
    assert.deepEqual(ran, expected);
  });
});

describe("Scheduler run limits", () => {
  test("runFor runs events due up to the deadline inclusive and leaves time at the deadline", () => {
    const scheduler = new Scheduler();
    const ran: number[] = [];
    for (const delayMs of [5, 10, 11]) scheduler.schedule(delayMs, () => ran.push(delayMs));
    assert.equal(scheduler.runFor(10), 2);
    assert.deepEqual(ran, [5, 10]);
    assert.equal(scheduler.nowMs, 10);
    assert.equal(scheduler.pendingCount, 1);
  });

  test("runUntil stops at the event that satisfies the predicate", () => {
    const scheduler = new Scheduler();
    let counter = 0;
    for (let index = 1; index <= 10; index++) scheduler.schedule(index * 10, () => counter++);
    assert.equal(
      scheduler.runUntil(() => counter === 3, 1000),
      true,
    );
    assert.equal(scheduler.nowMs, 30);
    assert.equal(scheduler.pendingCount, 7);
  });

  test("runUntil gives up at maxMs of virtual time and reports failure", () => {
    const scheduler = new Scheduler();
    scheduler.schedule(500, () => {});
    assert.equal(
      scheduler.runUntil(() => false, 100),
      false,
    );
    assert.equal(scheduler.nowMs, 100);
    assert.equal(scheduler.pendingCount, 1);
  });

  test("a livelock hits the event limit with an error naming the limit", () => {
    const scheduler = new Scheduler();
    const spin = (): void => {
      scheduler.schedule(0, spin, "spin");
    };
    scheduler.schedule(0, spin, "spin");
    assert.throws(
      () => scheduler.runUntilIdle(1000),
      (error: unknown) =>
        error instanceof EventLimitExceededError &&
        error.maxEvents === 1000 &&
        /1000 events/.test(error.message) &&
        /"spin"/.test(error.message),
    );
    assert.throws(() => scheduler.runFor(10, 50), EventLimitExceededError);
    assert.throws(() => scheduler.runUntil(() => false, 10, 50), EventLimitExceededError);
  });

  test("the default event limit from the options applies when a run gives none", () => {
    const scheduler = new Scheduler({ defaultMaxEvents: 3 });
    for (let index = 0; index < 4; index++) scheduler.schedule(index, () => {});
    assert.throws(() => scheduler.runUntilIdle(), EventLimitExceededError);
  });

  test("the pending queue is bounded", () => {
    const scheduler = new Scheduler({ maxPendingEvents: 2 });
    scheduler.schedule(1, () => {});
    scheduler.schedule(1, () => {});
    assert.throws(() => scheduler.schedule(1, () => {}, "third"), PendingEventLimitError);
  });

  test("rejects negative or non-finite delays, times in the past, and nested runs", () => {
    const scheduler = new Scheduler({ startMs: 10 });
    assert.throws(() => scheduler.schedule(-1, () => {}), RangeError);
    assert.throws(() => scheduler.schedule(Number.NaN, () => {}), RangeError);
    assert.throws(() => scheduler.schedule(Number.POSITIVE_INFINITY, () => {}), RangeError);
    assert.throws(() => scheduler.scheduleAt(9, () => {}), RangeError);
    assert.throws(() => scheduler.runFor(-5), RangeError);
    scheduler.schedule(1, () => scheduler.runUntilIdle());
    assert.throws(() => scheduler.runUntilIdle(), /must not be called from inside an event/);
  });
});
