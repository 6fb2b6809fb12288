import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { LOGICAL_LIMIT } from "#codec";
import type { Clock } from "#runtime";
import { Scheduler, VirtualClock } from "#sim";
import { type MetaStorage, TSO_WINDOW_KEY } from "../storage/index.ts";
import { MemoryPdGroup, testMember } from "../testing/memory-backend.ts";
import { timestampFromProto } from "./timestamp.ts";
import { MAX_TSO_BATCH, TsoAllocator, TsoInvalidCountError, TsoNotServingError } from "./tso-allocator.ts";

const WINDOW_MS = 3_000;
const UPDATE_INTERVAL_MS = 50;

/** Virtual time whose wall clock can be moved independently, like an NTP step. */
function manualTime(scheduler = new Scheduler()) {
  const virtual = new VirtualClock(scheduler);
  let wallOffsetMs = 0;
  const clock: Clock = {
    nowMs: () => virtual.nowMs() + wallOffsetMs,
    monotonicMs: () => virtual.monotonicMs(),
  };
  return {
    scheduler,
    clock,
    timers: virtual,
    jumpWallClock(deltaMs: number) {
      wallOffsetMs += deltaMs;
    },
    /** Runs timers for `durationMs` of virtual time, letting storage promises settle in between. */
    async run(durationMs: number) {
      for (let elapsed = 0; elapsed < durationMs; elapsed += UPDATE_INTERVAL_MS) {
        scheduler.runFor(Math.min(UPDATE_INTERVAL_MS, durationMs - elapsed));
        await settle();
      }
    },
  };
}

function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function allocatorFor(storage: MetaStorage, time: ReturnType<typeof manualTime>, windowMs = WINDOW_MS) {
  return new TsoAllocator({
    storage,
    clock: time.clock,
    timers: time.timers,
    windowMs,
    updateIntervalMs: UPDATE_INTERVAL_MS,
    // A failed background extension shows in what the tests check: the window and later allocations.
    onBackgroundError: () => {},
  });
}

function leaderGroup() {
  const group = new MemoryPdGroup();
  const a = group.join(testMember("pd-a", 1n));
  const b = group.join(testMember("pd-b", 2n));
  group.electSilently(1n);
  return { group, a, b };
}

function storedWindowEnd(group: MemoryPdGroup): number {
  return Number(new TextDecoder().decode(group.read(TSO_WINDOW_KEY)));
}

/** Allocates and checks that the batch lies strictly above `previous`; returns the batch's last timestamp. */
async function allocateAbove(allocator: TsoAllocator, count: number, previous: bigint): Promise<bigint> {
  const timestamp = await allocator.allocate(count);
  assert.ok(timestamp.logical >= BigInt(count) && timestamp.logical < BigInt(LOGICAL_LIMIT));
  const last = timestampFromProto(timestamp);
  const first = last - BigInt(count) + 1n;
  assert.ok(first > previous, `batch starting at ${first} is not above the previous timestamp ${previous}`);
  return last;
}

describe("TsoAllocator", () => {
  it("hands out strictly increasing batches whose physical part follows the clock", async () => {
    const { group, a } = leaderGroup();
    const time = manualTime();
    const allocator = allocatorFor(a.storage, time);
    await allocator.start();
    let previous = 0n;
    for (let round = 0; round < 200; round++) {
      previous = await allocateAbove(allocator, 1 + ((round * 7919) % 5000), previous);
      if (round % 3 === 0) await time.run(UPDATE_INTERVAL_MS * (1 + (round % 4)));
    }
    const physicalMs = Number(previous >> 18n);
    assert.ok(physicalMs >= time.clock.nowMs() - UPDATE_INTERVAL_MS, "physical time lags the clock");
    assert.ok(physicalMs <= storedWindowEnd(group), "served above the persisted window");
    allocator.stop();
  });

  it("persists the window before it serves anything", async () => {
    const { group, a } = leaderGroup();
    let releaseSave: () => void = () => {};
    const gatedStorage: MetaStorage = {
      ...a.storage,
      load: (key) => a.storage.load(key),
      save: async (key, value) => {
        await new Promise<void>((resolve) => {
          releaseSave = resolve;
        });
        await a.storage.save(key, value);
      },
    };
    const time = manualTime();
    const allocator = allocatorFor(gatedStorage, time);
    const starting = allocator.start();
    await settle();
    assert.equal(allocator.isServing, false);
    await assert.rejects(allocator.allocate(1), TsoNotServingError);
    assert.equal(group.read(TSO_WINDOW_KEY), undefined);
    releaseSave();
    await starting;
    const windowEndMs = storedWindowEnd(group);
    assert.ok(windowEndMs >= time.clock.nowMs() + WINDOW_MS);
    const timestamp = await allocator.allocate(10);
    assert.ok(Number(timestamp.physical) <= windowEndMs);
    allocator.stop();
  });

  it("extends the window from the timer, ahead of need", async () => {
    const { group, a } = leaderGroup();
    const time = manualTime();
    const allocator = allocatorFor(a.storage, time);
    await allocator.start();
    let previous = 0n;
    for (let second = 0; second < 10; second++) {
      await time.run(1_000);
      previous = await allocateAbove(allocator, 100, previous);
      // Half a window of head room is kept at every update tick.
      assert.ok(storedWindowEnd(group) - time.clock.nowMs() >= WINDOW_MS / 2 - UPDATE_INTERVAL_MS);
      assert.ok(Number(previous >> 18n) <= storedWindowEnd(group));
    }
    allocator.stop();
  });

  it("advances physical time by itself when half the logical range is used", async () => {
    const { group, a } = leaderGroup();
    const time = manualTime();
    const allocator = allocatorFor(a.storage, time);
    await allocator.start();
    const startPhysical = (await allocator.allocate(1)).physical;
    let previous = 0n;
    // Far more than one millisecond's worth of logical values, without the clock moving at all.
    for (let batch = 0; batch < 20; batch++) previous = await allocateAbove(allocator, 100_000, previous);
    const physical = previous >> 18n;
    assert.ok(physical > startPhysical, "physical time did not step forward");
    assert.ok(Number(physical) <= storedWindowEnd(group));
    allocator.stop();
  });

  it("never serves a smaller timestamp when the wall clock goes backwards", async () => {
    const { group, a } = leaderGroup();
    const time = manualTime();
    const allocator = allocatorFor(a.storage, time);
    await allocator.start();
    await time.run(500);
    let previous = await allocateAbove(allocator, 1, 0n);
    time.jumpWallClock(-60_000);
    await time.run(500);
    for (let batch = 0; batch < 50; batch++) {
      previous = await allocateAbove(allocator, 1 + batch * 1000, previous);
      await time.run(UPDATE_INTERVAL_MS);
    }
    // Enough to run through the whole persisted window while the clock is behind: extensions keep it going.
    for (let batch = 0; batch < 400; batch++)
      previous = await allocateAbove(allocator, MAX_TSO_BATCH, previous);
    assert.ok(Number(previous >> 18n) <= storedWindowEnd(group));
    allocator.stop();
  });

  it("starts a new leader strictly above everything the old leader could serve", async () => {
    const { group, a, b } = leaderGroup();
    const oldTime = manualTime();
    const oldLeader = allocatorFor(a.storage, oldTime);
    await oldLeader.start();
    let oldMaximum = 0n;
    for (let round = 0; round < 20; round++) {
      oldMaximum = await allocateAbove(oldLeader, 1000, oldMaximum);
      await oldTime.run(100);
    }
    // The new leader's clock is 30 s behind, and the old leader has not noticed it lost leadership.
    group.electSilently(2n);
    const newTime = manualTime();
    newTime.jumpWallClock(-30_000);
    const newLeader = allocatorFor(b.storage, newTime);
    await newLeader.start();
    const newMinimum = timestampFromProto(await newLeader.allocate(1));
    // The deposed leader keeps serving from memory until its next window write is fenced.
    for (let round = 0; round < 200 && oldLeader.isServing; round++) {
      try {
        oldMaximum = await allocateAbove(oldLeader, 1000, oldMaximum);
      } catch (error) {
        assert.ok(error instanceof TsoNotServingError, `unexpected ${String(error)}`);
      }
      await oldTime.run(UPDATE_INTERVAL_MS);
    }
    assert.equal(oldLeader.isServing, false, "a fenced window write must stop the old leader");
    assert.ok(newMinimum > oldMaximum, `new leader's ${newMinimum} is not above old leader's ${oldMaximum}`);
    newLeader.stop();
  });

  it("continues above its own saved window after a restart on the same member", async () => {
    const { a } = leaderGroup();
    const time = manualTime();
    const first = allocatorFor(a.storage, time);
    await first.start();
    const before = timestampFromProto(await first.allocate(5));
    first.stop();
    const second = allocatorFor(a.storage, time);
    await second.start();
    await allocateAbove(second, 1, before);
    second.stop();
  });

  it("stops serving at once when stopped", async () => {
    const { a } = leaderGroup();
    const time = manualTime();
    const allocator = allocatorFor(a.storage, time);
    await allocator.start();
    await allocator.allocate(1);
    allocator.stop();
    assert.equal(allocator.isServing, false);
    await assert.rejects(allocator.allocate(1), TsoNotServingError);
    assert.equal(time.scheduler.nextEventAtMs(), undefined, "the update timer must be cancelled");
  });

  it("refuses counts outside [1, MAX_TSO_BATCH]", async () => {
    const { a } = leaderGroup();
    const allocator = allocatorFor(a.storage, manualTime());
    await allocator.start();
    for (const count of [0, -1, 1.5, MAX_TSO_BATCH + 1, Number.NaN]) {
      await assert.rejects(allocator.allocate(count), TsoInvalidCountError);
    }
    allocator.stop();
  });
});
