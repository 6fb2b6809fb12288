import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { encodeBytes } from "./memcomparable-bytes.ts";
import { appendTs, decodeMvccKey, decodeMvccKeyTs, encodeMvccKey, truncateTs } from "./mvcc-key.ts";
import {
  assertCodecError,
  byteString,
  byteStringPair,
  compareValues,
  concatBytes,
  oracleCompareBytes,
  RUNS,
  uint64,
} from "./testing/fixtures.ts";

const bytes = (...values: number[]) => Uint8Array.from(values);

/** The order MVCC keys must have: by user key, then newest (largest ts) first. */
function compareMvcc(left: [Uint8Array, bigint], right: [Uint8Array, bigint]): number {
  return oracleCompareBytes(left[0], right[0]) || compareValues(right[1], left[1]);
}

describe("MVCC keys: exact vectors", () => {
  it("appends the inverted timestamp to the memcomparable user key", () => {
    assert.deepEqual(
      encodeMvccKey(bytes(0x61), 5n),
      bytes(0x61, 0, 0, 0, 0, 0, 0, 0, 0xf8, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfa),
    );
  });

  it("rejects keys of impossible length, trailing bytes and out-of-range timestamps", () => {
    assertCodecError(() => truncateTs(new Uint8Array(16)), "truncated");
    assertCodecError(() => decodeMvccKeyTs(new Uint8Array(18)), "non-canonical");
    assertCodecError(
      () => decodeMvccKey(concatBytes([encodeMvccKey(bytes(1), 1n), bytes(0)])),
      "trailing-bytes",
    );
    assertCodecError(() => decodeMvccKey(encodeBytes(bytes(1))), "truncated");
    assertCodecError(() => encodeMvccKey(bytes(1), -1n), "out-of-range");
  });
});

describe("MVCC keys: properties", () => {
  it("round-trips, and the parts come back from the cheap accessors", () => {
    fc.assert(
      fc.property(byteString, uint64, (userKey, ts) => {
        const encoded = encodeMvccKey(userKey, ts);
        assert.deepEqual(decodeMvccKey(encoded), { userKey, ts });
        assert.equal(decodeMvccKeyTs(encoded), ts);
        assert.deepEqual(truncateTs(encoded), encodeBytes(userKey));
        assert.deepEqual(appendTs(encodeBytes(userKey), ts), encoded);
      }),
      RUNS,
    );
  });

  it("sorts by user key, then newest version first", () => {
    const sameKey = fc.tuple(byteString, uint64, uint64).map(([key, leftTs, rightTs]) => ({
      left: [key, leftTs] as [Uint8Array, bigint],
      right: [key, rightTs] as [Uint8Array, bigint],
    }));
    const differentKeys = fc
      .tuple(byteStringPair, uint64, uint64)
      .map(([[leftKey, rightKey], leftTs, rightTs]) => ({
        left: [leftKey, leftTs] as [Uint8Array, bigint],
        right: [rightKey, rightTs] as [Uint8Array, bigint],
      }));
    fc.assert(
      fc.property(fc.oneof(sameKey, differentKeys), ({ left, right }) => {
        const byteOrder = oracleCompareBytes(encodeMvccKey(...left), encodeMvccKey(...right));
        assert.equal(byteOrder, compareMvcc(left, right));
      }),
      RUNS,
    );
  });

  it("rejects every truncation of an MVCC key", () => {
    fc.assert(
      fc.property(byteString, uint64, fc.nat(), (userKey, ts, cut) => {
        const encoded = encodeMvccKey(userKey, ts);
        const truncated = encoded.subarray(0, cut % encoded.length);
        assertCodecError(() => decodeMvccKey(truncated), "truncated");
      }),
      RUNS,
    );
  });
});
