import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { type KeyRange, rangeDifference } from "./key-range-difference.ts";
import { keyInRegion } from "./region-meta.ts";

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
const range = (startKey: string, endKey: string): KeyRange => ({
  startKey: bytes(startKey),
  endKey: bytes(endKey),
});
const show = (ranges: readonly KeyRange[]) =>
  ranges.map(
    ({ startKey, endKey }) => `[${Buffer.from(startKey)},${Buffer.from(endKey).toString() || "+inf"})`,
  );

const inRange = (key: Uint8Array, { startKey, endKey }: KeyRange): boolean =>
  keyInRegion(key, { id: 0n, startKey, endKey, regionEpoch: undefined, peers: [] });

test("a region shrunk by a split leaves its right part behind", () => {
  assert.deepEqual(show(rangeDifference(range("", ""), [range("", "m")])), ["[m,+inf)"]);
  assert.deepEqual(show(rangeDifference(range("c", "x"), [range("f", "k")])), ["[c,f)", "[k,x)"]);
  assert.deepEqual(show(rangeDifference(range("c", "x"), [range("a", "z")])), []);
  assert.deepEqual(show(rangeDifference(range("c", "x"), [range("x", "z")])), ["[c,x)"]);
  assert.deepEqual(show(rangeDifference(range("", ""), [range("", "m"), range("p", "t")])), [
    "[m,p)",
    "[t,+inf)",
  ]);
});

test("a key is in the difference exactly when it is in the range and in no cut", () => {
  const key = fc.stringMatching(/^[a-e]{0,2}$/);
  const arbitraryRange = fc
    .tuple(key, key)
    .map(([a, b]) => (b === "" || a < b ? range(a, b) : range(b, a === "" ? "" : a)));
  fc.assert(
    fc.property(
      arbitraryRange,
      fc.array(arbitraryRange, { maxLength: 4 }),
      fc.array(key),
      (whole, cuts, probes) => {
        const pieces = rangeDifference(whole, cuts);
        for (const probe of probes.map(bytes)) {
          const expected = inRange(probe, whole) && !cuts.some((cut) => inRange(probe, cut));
          assert.equal(
            pieces.some((piece) => inRange(probe, piece)),
            expected,
          );
        }
      },
    ),
  );
});
