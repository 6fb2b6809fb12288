import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { SeededRandom } from "#runtime";
import { ReconnectBackoff } from "./reconnect-backoff.ts";

describe("ReconnectBackoff", () => {
  test("delays double from the base up to the cap, each jittered within the upper half of its step", () => {
    const backoff = new ReconnectBackoff({ baseMs: 100, capMs: 1000 }, new SeededRandom(1));
    const steps = [100, 200, 400, 800, 1000, 1000, 1000];
    for (const step of steps) {
      const delayMs = backoff.nextDelayMs();
      assert.ok(delayMs >= step / 2 && delayMs <= step, `delay ${delayMs} outside [${step / 2}, ${step}]`);
    }
    assert.equal(backoff.failures, steps.length);
  });

  test("reset starts again from the base", () => {
    const backoff = new ReconnectBackoff({ baseMs: 100, capMs: 1000 }, new SeededRandom(2));
    for (let attempt = 0; attempt < 5; attempt++) backoff.nextDelayMs();
    backoff.reset();
    assert.equal(backoff.failures, 0);
    assert.ok(backoff.nextDelayMs() <= 100);
  });

  test("delays stay finite after very many failures", () => {
    const backoff = new ReconnectBackoff({ baseMs: 1, capMs: 50 }, new SeededRandom(3));
    for (let attempt = 0; attempt < 10_000; attempt++) assert.ok(backoff.nextDelayMs() <= 50);
  });

  test("a base above the cap is refused", () => {
    assert.throws(() => new ReconnectBackoff({ baseMs: 10, capMs: 5 }, new SeededRandom(4)), RangeError);
  });
});
