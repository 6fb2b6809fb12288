import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { INT64_MAX, INT64_MIN, UINT64_MAX } from "./integer-range.ts";
import {
  assertCodecError,
  assertDecodesCanonicallyOrRejects,
  assertSelfDelimiting,
  int64,
  RUNS,
  uint64,
} from "./testing/fixtures.ts";
import {
  decodeUvarint,
  decodeVarint,
  encodeUvarint,
  encodeVarint,
  uvarintLength,
  varintLength,
  writeUvarint,
} from "./varint.ts";

const bytes = (...values: number[]) => Uint8Array.from(values);

describe("varint: exact vectors", () => {
  it("writes 7 bits per byte, least significant first", () => {
    assert.deepEqual(encodeUvarint(0n), bytes(0));
    assert.deepEqual(encodeUvarint(127n), bytes(0x7f));
    assert.deepEqual(encodeUvarint(128n), bytes(0x80, 0x01));
    assert.deepEqual(encodeUvarint(300n), bytes(0xac, 0x02));
    assert.deepEqual(
      encodeUvarint(UINT64_MAX),
      bytes(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01),
    );
  });

  it("zig-zags signed values so small magnitudes stay short", () => {
    assert.deepEqual(encodeVarint(0n), bytes(0));
    assert.deepEqual(encodeVarint(-1n), bytes(1));
    assert.deepEqual(encodeVarint(1n), bytes(2));
    assert.deepEqual(encodeVarint(-64n), bytes(0x7f));
    assert.deepEqual(encodeVarint(64n), bytes(0x80, 0x01));
    assert.deepEqual(encodeVarint(INT64_MIN), encodeUvarint(UINT64_MAX));
    assert.deepEqual(encodeVarint(INT64_MAX), encodeUvarint(UINT64_MAX - 1n));
  });

  it("rejects out-of-range values, overlong forms and values past 64 bits", () => {
    assertCodecError(() => encodeUvarint(-1n), "out-of-range");
    assertCodecError(() => encodeUvarint(UINT64_MAX + 1n), "out-of-range");
    assertCodecError(() => encodeVarint(INT64_MAX + 1n), "out-of-range");
    assertCodecError(() => encodeVarint(INT64_MIN - 1n), "out-of-range");
    assertCodecError(() => decodeUvarint(bytes(0x80, 0x00), 0), "non-canonical");
    assertCodecError(
      () => decodeUvarint(bytes(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02), 0),
      "out-of-range",
    );
    assertCodecError(() => decodeUvarint(new Uint8Array(11).fill(0x80), 0), "out-of-range");
    assertCodecError(() => decodeUvarint(bytes(0x80), 0), "truncated");
    assertCodecError(() => decodeUvarint(bytes(), 0), "truncated");
    assertCodecError(() => writeUvarint(new Uint8Array(1), 0, 128n), "buffer-too-small");
  });
});

describe("varint: properties", () => {
  it("round-trips uvarints at their predicted length", () => {
    fc.assert(
      fc.property(uint64, (value) => {
        const encoded = encodeUvarint(value);
        assert.equal(encoded.length, uvarintLength(value));
        assert.deepEqual(decodeUvarint(encoded, 0), { value, nextOffset: encoded.length });
      }),
      RUNS,
    );
  });

  it("round-trips varints at their predicted length", () => {
    fc.assert(
      fc.property(int64, (value) => {
        const encoded = encodeVarint(value);
        assert.equal(encoded.length, varintLength(value));
        assert.deepEqual(decodeVarint(encoded, 0), { value, nextOffset: encoded.length });
      }),
      RUNS,
    );
  });

  it("uses one byte more for every further 7 bits", () => {
    fc.assert(
      fc.property(uint64, (value) => {
        const significantBits = value === 0n ? 1 : value.toString(2).length;
        assert.equal(uvarintLength(value), Math.ceil(significantBits / 7));
      }),
      RUNS,
    );
  });

  it("decodes several encodings laid end to end", () => {
    fc.assert(
      fc.property(
        fc.array(uint64, { maxLength: 6 }),
        fc.array(int64, { maxLength: 6 }),
        (unsigned, signed) => {
          assertSelfDelimiting(unsigned, encodeUvarint, decodeUvarint);
          assertSelfDelimiting(signed, encodeVarint, decodeVarint);
        },
      ),
      RUNS,
    );
  });

  it("rejects every truncation", () => {
    fc.assert(
      fc.property(uint64, (value) => {
        const encoded = encodeUvarint(value);
        for (let length = 0; length < encoded.length; length++) {
          assertCodecError(() => decodeUvarint(encoded.subarray(0, length), 0), "truncated");
        }
      }),
      RUNS,
    );
  });

  it("either rejects arbitrary bytes or decodes them to a value that encodes back to them", () => {
    const continuationHeavy = fc
      .array(fc.oneof(fc.integer({ min: 0x80, max: 0xff }), fc.nat(255)), { maxLength: 12 })
      .map((values) => Uint8Array.from(values));
    fc.assert(
      fc.property(continuationHeavy, (buffer) => {
        assertDecodesCanonicallyOrRejects(buffer, decodeUvarint, encodeUvarint);
        assertDecodesCanonicallyOrRejects(buffer, decodeVarint, encodeVarint);
      }),
      RUNS,
    );
  });
});
