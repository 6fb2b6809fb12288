import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { SeededRandom } from "#runtime";
import { checkReconnectBackoffPolicy, ReconnectBackoff } from "./reconnect-backoff.ts";

describe("ReconnectBackoff", () => {
  test("delays double from the base up to the cap, each jittered within the upper half of its step", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 5000 }),
        fc.integer({ min: 0, max: 60_000 }),
        fc.integer(),
        (baseMs, extraCapMs, seed) => {
          const capMs = baseMs + extraCapMs;
          const backoff = new ReconnectBackoff({ baseMs, capMs }, new SeededRandom(seed));
          for (let attempt = 0; attempt < 40; attempt++) {
            const stepMs = Math.min(capMs, baseMs * 2 ** attempt);
            const delayMs = backoff.nextDelayMs();
            assert.ok(
              delayMs >= Math.floor(stepMs / 2) && delayMs < stepMs,
              `delay ${delayMs} outside [${stepMs / 2}, ${stepMs})`,
            );
          }
          assert.equal(backoff.failures, 40);
        },
      ),
    );
  });

  test("reset starts again from the base", () => {
    const backoff = new ReconnectBackoff({ baseMs: 100, capMs: 1000 }, new SeededRandom(2));
    for (let attempt = 0; attempt < 5; attempt++) backoff.nextDelayMs();
    backoff.reset();
    assert.equal(backoff.failures, 0);
    assert.ok(backoff.nextDelayMs() < 100);
  });

  test("delays stay within the cap after very many failures", () => {
    const backoff = new ReconnectBackoff({ baseMs: 1, capMs: 50 }, new SeededRandom(3));
    for (let attempt = 0; attempt < 10_000; attempt++) assert.ok(backoff.nextDelayMs() <= 50);
  });

  test("a base that is not positive or is above the cap is refused", () => {
    for (const policy of [
      { baseMs: 10, capMs: 5 },
      { baseMs: 0, capMs: 5 },
      { baseMs: Number.NaN, capMs: 5 },
    ]) {
      assert.throws(() => checkReconnectBackoffPolicy(policy), RangeError);
      assert.throws(() => new ReconnectBackoff(policy, new SeededRandom(4)), RangeError);
    }
  });
});
