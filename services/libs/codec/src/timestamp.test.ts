import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { composeTimestamp, LOGICAL_LIMIT, logicalOf, physicalMsOf, splitTimestamp } from "./timestamp.ts";

const physical = fc.bigInt({ min: 0n, max: (1n << 46n) - 1n });
const logical = fc.bigInt({ min: 0n, max: BigInt(LOGICAL_LIMIT - 1) });

describe("timestamp", () => {
  test("compose and split are inverse", () => {
    fc.assert(
      fc.property(physical, logical, (physicalMs, logicalPart) => {
        const timestamp = composeTimestamp(physicalMs, logicalPart);
        assert.deepEqual(splitTimestamp(timestamp), { physicalMs, logical: logicalPart });
        assert.equal(physicalMsOf(timestamp), physicalMs);
        assert.equal(logicalOf(timestamp), logicalPart);
      }),
    );
  });

  test("order of timestamps is the order of (physical, logical)", () => {
    fc.assert(
      fc.property(physical, logical, physical, logical, (physicalA, logicalA, physicalB, logicalB) => {
        const byParts =
          physicalA === physicalB ? Math.sign(Number(logicalA - logicalB)) : physicalA < physicalB ? -1 : 1;
        const a = composeTimestamp(physicalA, logicalA);
        const b = composeTimestamp(physicalB, logicalB);
        assert.equal(a === b ? 0 : a < b ? -1 : 1, byParts);
      }),
    );
  });

  test("the logical part must fit in 18 bits and the physical part must not be negative", () => {
    assert.equal(composeTimestamp(1n, BigInt(LOGICAL_LIMIT - 1)), (1n << 18n) + BigInt(LOGICAL_LIMIT - 1));
    assert.throws(() => composeTimestamp(1n, BigInt(LOGICAL_LIMIT)), RangeError);
    assert.throws(() => composeTimestamp(1n, -1n), RangeError);
    assert.throws(() => composeTimestamp(-1n, 0n), RangeError);
  });
});
