import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { UINT64_MAX } from "./integer-range.ts";
import {
  decodeFloat64,
  decodeFloat64Desc,
  encodeFloat64,
  encodeFloat64Desc,
  writeFloat64,
} from "./memcomparable-float.ts";
import { encodeUint64, encodeUint64Desc } from "./memcomparable-integer.ts";
import {
  assertCodecError,
  assertDecodesCanonicallyOrRejects,
  assertSelfDelimiting,
  compareValues,
  float64,
  oracleCompareBytes,
  RUNS,
} from "./testing/fixtures.ts";

const bytes = (...values: number[]) => Uint8Array.from(values);

/** What decoding returns for a value: -0 is encoded as +0. */
const normalised = (value: number) => (value === 0 ? 0 : value);

describe("memcomparable float64: exact vectors", () => {
  it("sets the sign bit of non-negative values", () => {
    assert.deepEqual(encodeFloat64(0), bytes(0x80, 0, 0, 0, 0, 0, 0, 0));
    assert.deepEqual(encodeFloat64(1), bytes(0xbf, 0xf0, 0, 0, 0, 0, 0, 0));
    assert.deepEqual(encodeFloat64(Number.POSITIVE_INFINITY), bytes(0xff, 0xf0, 0, 0, 0, 0, 0, 0));
    assert.deepEqual(encodeFloat64(Number.MIN_VALUE), bytes(0x80, 0, 0, 0, 0, 0, 0, 1));
  });

  it("inverts all bits of negative values", () => {
    assert.deepEqual(encodeFloat64(-1), bytes(0x40, 0x0f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff));
    assert.deepEqual(
      encodeFloat64(Number.NEGATIVE_INFINITY),
      bytes(0x00, 0x0f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff),
    );
  });

  it("inverts the ascending encoding for the descending variant", () => {
    assert.deepEqual(encodeFloat64Desc(1), bytes(0x40, 0x0f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff));
  });

  it("encodes -0 exactly like +0 and decodes it as +0", () => {
    assert.deepEqual(encodeFloat64(-0), encodeFloat64(0));
    assert.deepEqual(encodeFloat64Desc(-0), encodeFloat64Desc(0));
    assert.ok(Object.is(decodeFloat64(encodeFloat64(-0), 0).value, 0));
  });

  it("rejects NaN when encoding and NaN or -0 bytes when decoding", () => {
    assertCodecError(() => encodeFloat64(Number.NaN), "not-a-number");
    assertCodecError(() => encodeFloat64Desc(Number.NaN), "not-a-number");
    assertCodecError(() => writeFloat64(new Uint8Array(8), 0, Number.NaN), "not-a-number");
    // 0xFFF8... is a quiet NaN with the sign bit set after the ascending transform.
    assertCodecError(() => decodeFloat64(bytes(0xff, 0xf8, 0, 0, 0, 0, 0, 0), 0), "not-a-number");
    assertCodecError(
      () => decodeFloat64(bytes(0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff), 0),
      "non-canonical",
    );
    assertCodecError(() => decodeFloat64Desc(bytes(0x80, 0, 0, 0, 0, 0, 0, 0), 0), "non-canonical");
  });
});

describe("memcomparable float64: properties", () => {
  it("round-trips every non-NaN float (with -0 as +0)", () => {
    fc.assert(
      fc.property(float64, (value) => {
        assert.deepEqual(decodeFloat64(encodeFloat64(value), 0), { value: normalised(value), nextOffset: 8 });
        assert.deepEqual(decodeFloat64Desc(encodeFloat64Desc(value), 0), {
          value: normalised(value),
          nextOffset: 8,
        });
      }),
      RUNS,
    );
  });

  it("orders encodings like the values, and descending encodings in reverse", () => {
    fc.assert(
      fc.property(float64, float64, (left, right) => {
        const expected = compareValues(left, right);
        assert.equal(oracleCompareBytes(encodeFloat64(left), encodeFloat64(right)), expected);
        assert.equal(oracleCompareBytes(encodeFloat64Desc(right), encodeFloat64Desc(left)), expected);
      }),
      RUNS,
    );
  });

  it("decodes several encodings laid end to end", () => {
    fc.assert(
      fc.property(fc.array(float64.map(normalised), { maxLength: 6 }), (values) => {
        assertSelfDelimiting(values, encodeFloat64, decodeFloat64);
        assertSelfDelimiting(values, encodeFloat64Desc, decodeFloat64Desc);
      }),
      RUNS,
    );
  });

  it("rejects the bytes of every NaN, whatever its sign and payload", () => {
    const nanPattern = fc.record({
      negative: fc.boolean(),
      payload: fc.bigInt({ min: 1n, max: (1n << 52n) - 1n }),
    });
    fc.assert(
      fc.property(nanPattern, ({ negative, payload }) => {
        const ieeeBits = (negative ? 1n << 63n : 0n) | (0x7ffn << 52n) | payload;
        const comparableBits = negative ? UINT64_MAX ^ ieeeBits : ieeeBits | (1n << 63n);
        assertCodecError(() => decodeFloat64(encodeUint64(comparableBits), 0), "not-a-number");
        assertCodecError(() => decodeFloat64Desc(encodeUint64Desc(comparableBits), 0), "not-a-number");
      }),
      RUNS,
    );
  });

  it("decodes arbitrary 8 bytes canonically or rejects them, and rejects fewer", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 8, maxLength: 8 }), fc.nat({ max: 7 }), (buffer, short) => {
        assertDecodesCanonicallyOrRejects(buffer, decodeFloat64, encodeFloat64);
        assertDecodesCanonicallyOrRejects(buffer, decodeFloat64Desc, encodeFloat64Desc);
        assertCodecError(() => decodeFloat64(buffer.subarray(0, short), 0), "truncated");
      }),
      RUNS,
    );
  });
});
