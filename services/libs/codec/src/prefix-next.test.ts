import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { prefixNext } from "./prefix-next.ts";
import { byteString, concatBytes, oracleCompareBytes, RUNS } from "./testing/fixtures.ts";

const bytes = (...values: number[]) => Uint8Array.from(values);

function startsWith(key: Uint8Array, prefix: Uint8Array): boolean {
  return key.length >= prefix.length && prefix.every((byte, index) => key[index] === byte);
}

describe("prefixNext", () => {
  it("increments the last byte that is not 0xFF and drops the 0xFF bytes after it", () => {
    assert.deepEqual(prefixNext(bytes(1, 2)), bytes(1, 3));
    assert.deepEqual(prefixNext(bytes(1, 0xff)), bytes(2));
    assert.deepEqual(prefixNext(bytes(1, 0xfe, 0xff, 0xff)), bytes(1, 0xff));
  });

  it("returns the empty key (+infinity) when nothing bounds the prefix", () => {
    assert.deepEqual(prefixNext(bytes()), bytes());
    assert.deepEqual(prefixNext(bytes(0xff, 0xff)), bytes());
  });

  it("leaves its argument unchanged", () => {
    const prefix = bytes(1, 2, 0xff);
    prefixNext(prefix);
    assert.deepEqual(prefix, bytes(1, 2, 0xff));
  });

  it("bounds exactly the keys with the prefix: prefix <= key < next (empty next = unbounded)", () => {
    const prefixAndKey = byteString.chain((prefix) => {
      const next = prefixNext(prefix);
      const nearby = fc.oneof(
        byteString,
        byteString.map((suffix) => concatBytes([prefix, suffix])),
        byteString.map((suffix) => concatBytes([next, suffix])),
        fc.nat({ max: prefix.length }).map((length) => prefix.slice(0, length)),
      );
      return fc.tuple(fc.constant(prefix), nearby);
    });
    fc.assert(
      fc.property(prefixAndKey, ([prefix, key]) => {
        const next = prefixNext(prefix);
        const belowNext = next.length === 0 || oracleCompareBytes(key, next) < 0;
        const inRange = oracleCompareBytes(prefix, key) <= 0 && belowNext;
        assert.equal(inRange, startsWith(key, prefix));
      }),
      RUNS,
    );
  });
});
