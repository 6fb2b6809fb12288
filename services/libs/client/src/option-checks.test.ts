import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { nonNegative, positive, positiveInteger } from "./option-checks.ts";

describe("option checks", () => {
  it("return the value they accept", () => {
    assert.equal(positiveInteger("n", 1), 1);
    assert.equal(positive("ms", 0.5), 0.5);
    assert.equal(nonNegative("ms", 0), 0);
  });

  it("positiveInteger refuses fractions, zero and unsafe integers, naming the option", () => {
    for (const value of [0, -1, 1.5, Number.NaN, 2 ** 53]) {
      assert.throws(() => positiveInteger("maxBatchSize", value), {
        name: "RangeError",
        message: `maxBatchSize must be an integer >= 1, got ${value}`,
      });
    }
  });

  it("positive refuses zero, negatives and non-finite values, naming the option", () => {
    for (const value of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
      assert.throws(() => positive("idleTimeoutMs", value), {
        name: "RangeError",
        message: `idleTimeoutMs must be > 0, got ${value}`,
      });
    }
  });

  it("nonNegative refuses negatives and non-finite values, naming the option", () => {
    for (const value of [-0.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      assert.throws(() => nonNegative("maxBatchWaitMs", value), {
        name: "RangeError",
        message: `maxBatchWaitMs must be >= 0, got ${value}`,
      });
    }
  });
});
