import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { INT64_MAX, INT64_MIN, UINT64_MAX } from "./integer-range.ts";
import {
  decodeInt64,
  decodeInt64Desc,
  decodeUint64,
  decodeUint64Desc,
  encodeInt64,
  encodeInt64Desc,
  encodeUint64,
  encodeUint64Desc,
  writeInt64,
} from "./memcomparable-integer.ts";
import {
  assertCodecError,
  assertSelfDelimiting,
  compareValues,
  int64,
  oracleCompareBytes,
  RUNS,
  uint64,
} from "./testing/fixtures.ts";

const bytes = (...values: number[]) => Uint8Array.from(values);

interface IntegerCodec {
  readonly name: string;
  readonly values: fc.Arbitrary<bigint>;
  readonly encode: (value: bigint) => Uint8Array;
  readonly decode: (
    buffer: Uint8Array,
    offset: number,
  ) => { readonly value: bigint; readonly nextOffset: number };
  /** 1 when encodings sort like values, -1 when they sort in reverse. */
  readonly direction: 1 | -1;
}

const codecs: readonly IntegerCodec[] = [
  { name: "uint64", values: uint64, encode: encodeUint64, decode: decodeUint64, direction: 1 },
  { name: "uint64 desc", values: uint64, encode: encodeUint64Desc, decode: decodeUint64Desc, direction: -1 },
  { name: "int64", values: int64, encode: encodeInt64, decode: decodeInt64, direction: 1 },
  { name: "int64 desc", values: int64, encode: encodeInt64Desc, decode: decodeInt64Desc, direction: -1 },
];

describe("memcomparable integers: exact vectors", () => {
  it("writes uint64 big-endian and its descending form inverted", () => {
    assert.deepEqual(encodeUint64(0n), bytes(0, 0, 0, 0, 0, 0, 0, 0));
    assert.deepEqual(encodeUint64(0x0102030405060708n), bytes(1, 2, 3, 4, 5, 6, 7, 8));
    assert.deepEqual(encodeUint64(UINT64_MAX), bytes(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff));
    assert.deepEqual(encodeUint64Desc(1n), bytes(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe));
  });

  it("writes int64 as two's complement with the sign bit flipped", () => {
    assert.deepEqual(encodeInt64(INT64_MIN), bytes(0, 0, 0, 0, 0, 0, 0, 0));
    assert.deepEqual(encodeInt64(-1n), bytes(0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff));
    assert.deepEqual(encodeInt64(0n), bytes(0x80, 0, 0, 0, 0, 0, 0, 0));
    assert.deepEqual(encodeInt64(INT64_MAX), bytes(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff));
    assert.deepEqual(encodeInt64Desc(0n), bytes(0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff));
  });

  it("rejects bigints outside the type's range", () => {
    assertCodecError(() => encodeUint64(-1n), "out-of-range");
    assertCodecError(() => encodeUint64(UINT64_MAX + 1n), "out-of-range");
    assertCodecError(() => encodeUint64Desc(UINT64_MAX + 1n), "out-of-range");
    assertCodecError(() => encodeInt64(INT64_MIN - 1n), "out-of-range");
    assertCodecError(() => encodeInt64(INT64_MAX + 1n), "out-of-range");
    assertCodecError(() => encodeInt64Desc(1n << 64n), "out-of-range");
  });

  it("refuses to write past the end of the target", () => {
    assertCodecError(() => writeInt64(new Uint8Array(10), 3, 1n), "buffer-too-small");
  });
});

for (const codec of codecs) {
  describe(`memcomparable ${codec.name}: properties`, () => {
    it("round-trips through 8 bytes", () => {
      fc.assert(
        fc.property(codec.values, (value) => {
          const encoded = codec.encode(value);
          assert.equal(encoded.length, 8);
          assert.deepEqual(codec.decode(encoded, 0), { value, nextOffset: 8 });
        }),
        RUNS,
      );
    });

    it("orders encodings like the values (reversed for descending)", () => {
      fc.assert(
        fc.property(codec.values, codec.values, (left, right) => {
          const byteOrder = oracleCompareBytes(codec.encode(left), codec.encode(right));
          const valueOrder = codec.direction === 1 ? compareValues(left, right) : compareValues(right, left);
          assert.equal(byteOrder, valueOrder);
        }),
        RUNS,
      );
    });

    it("decodes several encodings laid end to end", () => {
      fc.assert(
        fc.property(fc.array(codec.values, { maxLength: 6 }), (values) => {
          assertSelfDelimiting(values, codec.encode, codec.decode);
        }),
        RUNS,
      );
    });

    it("decodes every 8 bytes to a value that encodes back to them, and rejects fewer", () => {
      fc.assert(
        fc.property(fc.uint8Array({ minLength: 8, maxLength: 8 }), fc.nat({ max: 7 }), (buffer, short) => {
          assert.deepEqual(codec.encode(codec.decode(buffer, 0).value), buffer);
          assertCodecError(() => codec.decode(buffer.subarray(0, short), 0), "truncated");
        }),
        RUNS,
      );
    });
  });
}
