import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { SerialTaskQueue } from "./serial-task-queue.ts";

describe("SerialTaskQueue", () => {
  it("runs tasks one at a time in the order they were queued", async () => {
    const queue = new SerialTaskQueue(10);
    const events: string[] = [];
    let releaseFirst: () => void = () => {};
    queue.push(async () => {
      events.push("first started");
      await new Promise<void>((resolve) => {
        releaseFirst = resolve;
      });
      events.push("first done");
    });
    queue.push(async () => {
      events.push("second");
    });
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(events, ["first started"]);
    releaseFirst();
    await queue.whenIdle();
    assert.deepEqual(events, ["first started", "first done", "second"]);
    assert.equal(queue.pending, 0);
  });

  it("refuses tasks beyond its bound until earlier ones finish", async () => {
    const queue = new SerialTaskQueue(2);
    let release: () => void = () => {};
    const blocked = new Promise<void>((resolve) => {
      release = resolve;
    });
    assert.equal(
      queue.push(() => blocked),
      true,
    );
    assert.equal(
      queue.push(async () => {}),
      true,
    );
    assert.equal(
      queue.push(async () => {}),
      false,
    );
    release();
    await queue.whenIdle();
    assert.equal(
      queue.push(async () => {}),
      true,
    );
  });
});
