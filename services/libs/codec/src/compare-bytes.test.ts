import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { compareBytes } from "./compare-bytes.ts";
import { byteStringPair, oracleCompareBytes, RUNS } from "./testing/fixtures.ts";

const bytes = (...values: number[]) => Uint8Array.from(values);

describe("compareBytes", () => {
  it("compares unsigned bytes and puts a proper prefix first", () => {
    assert.equal(compareBytes(bytes(), bytes()), 0);
    assert.equal(compareBytes(bytes(), bytes(0)), -1);
    assert.equal(compareBytes(bytes(1, 2), bytes(1)), 1);
    assert.equal(compareBytes(bytes(0x7f), bytes(0x80)), -1);
    assert.equal(compareBytes(bytes(0xff, 0), bytes(0xff, 0)), 0);
  });

  it("agrees with Node's native comparison and is antisymmetric", () => {
    fc.assert(
      fc.property(byteStringPair, ([left, right]) => {
        assert.equal(compareBytes(left, right), oracleCompareBytes(left, right));
        assert.equal(compareBytes(right, left), oracleCompareBytes(right, left));
      }),
      RUNS,
    );
  });
});
