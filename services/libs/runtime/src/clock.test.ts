import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { sleep, systemClock, systemTimers, type TimerHandle, type Timers } from "./clock.ts";

/** Timers that fire only when the test says so, to observe sleep() without waiting on real time. */
class ManualTimers implements Timers {
  readonly pending = new Map<number, () => void>();
  private nextId = 0;

  setTimeout(callback: () => void, _delayMs: number): TimerHandle {
    const id = this.nextId++;
    this.pending.set(id, callback);
    return { cancel: () => this.pending.delete(id) };
  }

  setInterval(callback: () => void, intervalMs: number): TimerHandle {
    return this.setTimeout(callback, intervalMs);
  }

  fireAll(): void {
    const callbacks = [...this.pending.values()];
    this.pending.clear();
    for (const callback of callbacks) callback();
  }
}

describe("systemClock", () => {
  it("monotonicMs never decreases", () => {
    let previous = systemClock.monotonicMs();
    for (let sample = 0; sample < 1000; sample++) {
      const current = systemClock.monotonicMs();
      assert.ok(current >= previous);
      previous = current;
    }
  });

  it("nowMs is the wall clock", () => {
    const before = Date.now();
    const now = systemClock.nowMs();
    assert.ok(now >= before && now <= Date.now());
  });
});

describe("systemTimers", () => {
  it("setTimeout fires its callback", async () => {
    await new Promise<void>((resolve) => systemTimers.setTimeout(resolve, 1));
  });

  it("a cancelled timeout does not fire", async () => {
    let fired = false;
    const handle = systemTimers.setTimeout(() => {
      fired = true;
    }, 1);
    handle.cancel();
    await new Promise<void>((resolve) => systemTimers.setTimeout(resolve, 5));
    assert.equal(fired, false);
  });

  it("setInterval repeats until cancelled", async () => {
    let count = 0;
    await new Promise<void>((resolve) => {
      const handle = systemTimers.setInterval(() => {
        count++;
        if (count === 3) {
          handle.cancel();
          resolve();
        }
      }, 1);
    });
    await new Promise<void>((resolve) => systemTimers.setTimeout(resolve, 5));
    assert.equal(count, 3);
  });
});

describe("sleep", () => {
  it("resolves when the timer fires", async () => {
    const timers = new ManualTimers();
    let resolved = false;
    const sleeping = sleep(100, timers).then(() => {
      resolved = true;
    });
    await Promise.resolve();
    assert.equal(resolved, false);
    timers.fireAll();
    await sleeping;
    assert.equal(resolved, true);
  });

  it("rejects with the abort reason and cancels its timer", async () => {
    const timers = new ManualTimers();
    const controller = new AbortController();
    const sleeping = sleep(100, timers, controller.signal);
    const reason = new Error("stopping");
    controller.abort(reason);
    await assert.rejects(sleeping, (error) => error === reason);
    assert.equal(timers.pending.size, 0);
  });

  it("rejects at once when the signal is already aborted", async () => {
    const timers = new ManualTimers();
    const controller = new AbortController();
    controller.abort(new Error("already"));
    await assert.rejects(sleep(100, timers, controller.signal), /already/);
    assert.equal(timers.pending.size, 0);
  });

  it("uses the real timers by default", async () => {
    await sleep(1);
  });
});
