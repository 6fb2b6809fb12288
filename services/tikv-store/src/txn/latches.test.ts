import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { bytes } from "../testing/bytes.ts";
import { Latches, LatchesFullError } from "./latches.ts";

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

describe("Latches", () => {
  it("runs commands on disjoint keys at once and serializes commands sharing a key", async () => {
    const latches = new Latches(2048, 16);
    const first = await latches.acquire([bytes("a"), bytes("b")]);
    let secondRan = false;
    const second = latches.acquire([bytes("b"), bytes("c")]).then((guard) => {
      secondRan = true;
      return guard;
    });
    // Keys hashing apart from a and b: granted at once.
    const other = await latches.acquire([bytes("zzz-unrelated")]);
    other.release();
    await tick();
    assert.equal(secondRan, false);
    assert.equal(latches.waitingCommands, 1);
    first.release();
    (await second).release();
    assert.equal(secondRan, true);
    assert.equal(latches.waitingCommands, 0);
  });

  it("grants in arrival order, so commands over overlapping key sets never deadlock", async () => {
    const latches = new Latches(1, 16);
    const order: number[] = [];
    const holder = await latches.acquire([bytes("x")]);
    const waiters = [1, 2, 3].map((id) =>
      latches.acquire([bytes(`k${id}`), bytes("x")]).then((guard) => {
        order.push(id);
        guard.release();
      }),
    );
    holder.release();
    await Promise.all(waiters);
    assert.deepEqual(order, [1, 2, 3]);
  });

  it("refuses a command beyond the bound on waiting commands and leaves no trace of it", async () => {
    const latches = new Latches(8, 1);
    const holder = await latches.acquire([bytes("k")]);
    const queued = latches.acquire([bytes("k")]);
    await assert.rejects(latches.acquire([bytes("k")]), LatchesFullError);
    holder.release();
    (await queued).release();
    (await latches.acquire([bytes("k")])).release();
    assert.equal(latches.waitingCommands, 0);
  });

  it("release is idempotent", async () => {
    const latches = new Latches(8, 4);
    const guard = await latches.acquire([bytes("k")]);
    guard.release();
    guard.release();
    (await latches.acquire([bytes("k")])).release();
  });
});
