import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { untilAborted } from "./until-aborted.ts";

describe("untilAborted", () => {
  it("settles as the promise does while the signal stays quiet", async () => {
    const signal = new AbortController().signal;
    assert.equal(await untilAborted(Promise.resolve(7), signal), 7);
    await assert.rejects(untilAborted(Promise.reject(new Error("lookup failed")), signal), /lookup failed/);
  });

  it("rejects with the abort reason at once, leaving the promise to finish alone", async () => {
    const controller = new AbortController();
    const reason = new Error("closing");
    let finish!: (value: number) => void;
    const slow = new Promise<number>((resolve) => {
      finish = resolve;
    });
    const waiting = untilAborted(slow, controller.signal);
    controller.abort(reason);
    await assert.rejects(waiting, (error: unknown) => error === reason);
    finish(1);
    await assert.rejects(untilAborted(slow, controller.signal), (error: unknown) => error === reason);
  });
});
