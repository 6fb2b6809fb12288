import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { SeededRandom } from "#runtime";
import { reconnectDelayMs } from "./reconnect-delay.ts";
import { DEFAULT_RECONNECT_POLICY } from "./rpc-client-options.ts";

describe("reconnectDelayMs", () => {
  it("stays within ±20 % of base × 1.6^(failures − 1), never above the cap", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 200 }), fc.integer(), (failures, seed) => {
        const delay = reconnectDelayMs(failures, DEFAULT_RECONNECT_POLICY, new SeededRandom(seed));
        const step = Math.min(3000, 100 * 1.6 ** (failures - 1));
        assert.ok(delay >= step * 0.8 - 1e-9, `${delay} below ${step * 0.8}`);
        assert.ok(delay <= Math.min(3000, step * 1.2) + 1e-9, `${delay} above the bound`);
      }),
    );
  });

  it("grows from about 100 ms to the 3 s cap", () => {
    const random = new SeededRandom(1);
    const delays = Array.from({ length: 12 }, (_, index) =>
      reconnectDelayMs(index + 1, DEFAULT_RECONNECT_POLICY, random),
    );
    assert.ok(delays[0]! >= 80 && delays[0]! <= 120);
    assert.ok(delays[11]! >= 2400 && delays[11]! <= 3000);
  });
});
