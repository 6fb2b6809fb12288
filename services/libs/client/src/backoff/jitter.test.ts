import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { SeededRandom } from "#runtime";
import { BackoffKinds } from "./backoff-kind.ts";
import {
  decorrelatedJitter,
  equalJitter,
  exponentialMs,
  fullJitter,
  type JitterInput,
  jitteredSleepMs,
  noJitter,
} from "./jitter.ts";

const inputs = fc
  .record({
    seed: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
    attempt: fc.integer({ min: 0, max: 80 }),
    baseMs: fc.integer({ min: 2, max: 5000 }),
    extraCapMs: fc.integer({ min: 0, max: 20_000 }),
    lastSleepFraction: fc.double({ min: 0, max: 1, noNaN: true }),
  })
  .map(({ seed, attempt, baseMs, extraCapMs, lastSleepFraction }): JitterInput => {
    const capMs = baseMs + extraCapMs;
    const lastSleepMs = Math.round(baseMs + (capMs - baseMs) * lastSleepFraction);
    return { attempt, baseMs, capMs, lastSleepMs, random: new SeededRandom(seed) };
  });

describe("jitter", () => {
  it("no jitter is the capped exponential", () => {
    fc.assert(
      fc.property(inputs, (input) => {
        assert.equal(noJitter(input), Math.min(input.capMs, input.baseMs * 2 ** input.attempt));
      }),
    );
  });

  it("full jitter stays in [0, exponential)", () => {
    fc.assert(
      fc.property(inputs, (input) => {
        const sleepMs = fullJitter(input);
        assert.ok(Number.isInteger(sleepMs));
        assert.ok(sleepMs >= 0 && sleepMs < exponentialMs(input.baseMs, input.capMs, input.attempt));
      }),
    );
  });

  it("equal jitter stays in [exponential / 2, exponential)", () => {
    fc.assert(
      fc.property(inputs, (input) => {
        const exponential = exponentialMs(input.baseMs, input.capMs, input.attempt);
        const sleepMs = equalJitter(input);
        assert.ok(Number.isInteger(sleepMs));
        assert.ok(sleepMs >= Math.floor(exponential / 2), `${sleepMs} below half of ${exponential}`);
        assert.ok(sleepMs < exponential, `${sleepMs} not below ${exponential}`);
      }),
    );
  });

  it("decorrelated jitter stays in [base, min(cap, 3 × last))", () => {
    fc.assert(
      fc.property(inputs, (input) => {
        const sleepMs = decorrelatedJitter(input);
        assert.ok(sleepMs >= input.baseMs && sleepMs <= input.capMs);
        assert.ok(sleepMs < Math.max(input.baseMs + 1, input.lastSleepMs * 3));
      }),
    );
  });

  it("randomised jitters spread across seeds while no jitter does not", () => {
    const input = (seed: number): JitterInput => ({
      attempt: 3,
      baseMs: 100,
      capMs: 2000,
      lastSleepMs: 400,
      random: new SeededRandom(seed),
    });
    const distinct = (kind: Parameters<typeof jitteredSleepMs>[0]): number =>
      new Set(Array.from({ length: 200 }, (_, seed) => jitteredSleepMs(kind, input(seed)))).size;
    assert.equal(distinct("none"), 1);
    for (const kind of ["full", "equal", "decorrelated"] as const) {
      assert.ok(distinct(kind) > 50, `${kind} jitter produced only ${distinct(kind)} distinct sleeps`);
    }
  });

  it("every standard kind sleeps within [0, cap] at every attempt", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...Object.values(BackoffKinds)),
        fc.integer({ min: 0, max: 60 }),
        fc.integer(),
        (kind, attempt, seed) => {
          const sleepMs = jitteredSleepMs(kind.jitter, {
            attempt,
            baseMs: kind.baseMs,
            capMs: kind.capMs,
            lastSleepMs: kind.capMs,
            random: new SeededRandom(seed),
          });
          assert.ok(sleepMs >= 0 && sleepMs <= kind.capMs, `${kind.name} slept ${sleepMs}`);
        },
      ),
    );
  });
});
