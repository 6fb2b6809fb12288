import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  decodeBytes,
  decodeBytesDesc,
  encodeBytes,
  encodeBytesDesc,
  encodedBytesLength,
  writeBytes,
} from "./memcomparable-bytes.ts";
import {
  assertCodecError,
  assertDecodesCanonicallyOrRejects,
  assertSelfDelimiting,
  byteString,
  byteStringPair,
  oracleCompareBytes,
  RUNS,
} from "./testing/fixtures.ts";

const bytes = (...values: number[]) => Uint8Array.from(values);

describe("memcomparable bytes: exact vectors", () => {
  it("pads the last group and marks it with 0xFF minus the pad count", () => {
    assert.deepEqual(encodeBytes(bytes()), bytes(0, 0, 0, 0, 0, 0, 0, 0, 0xf7));
    assert.deepEqual(encodeBytes(bytes(1, 2, 3)), bytes(1, 2, 3, 0, 0, 0, 0, 0, 0xfa));
    assert.deepEqual(encodeBytes(bytes(1, 2, 3, 0)), bytes(1, 2, 3, 0, 0, 0, 0, 0, 0xfb));
    assert.deepEqual(encodeBytes(bytes(1, 2, 3, 4, 5, 6, 7)), bytes(1, 2, 3, 4, 5, 6, 7, 0, 0xfe));
  });

  it("follows a full group with marker 0xFF and a further group", () => {
    assert.deepEqual(
      encodeBytes(bytes(1, 2, 3, 4, 5, 6, 7, 8)),
      bytes(1, 2, 3, 4, 5, 6, 7, 8, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0xf7),
    );
    assert.deepEqual(
      encodeBytes(bytes(1, 2, 3, 4, 5, 6, 7, 8, 9)),
      bytes(1, 2, 3, 4, 5, 6, 7, 8, 0xff, 9, 0, 0, 0, 0, 0, 0, 0, 0xf8),
    );
  });

  it("inverts every bit for the descending variant", () => {
    assert.deepEqual(
      encodeBytesDesc(bytes(1, 2, 3)),
      bytes(0xfe, 0xfd, 0xfc, 0xff, 0xff, 0xff, 0xff, 0xff, 0x05),
    );
    assert.deepEqual(encodeBytesDesc(bytes()), bytes(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x08));
  });

  it("computes encoded lengths as 9 bytes per started group plus one", () => {
    assert.deepEqual([0, 1, 7, 8, 9, 16, 17].map(encodedBytesLength), [9, 9, 9, 18, 18, 27, 27]);
    assertCodecError(() => encodedBytesLength(-1), "out-of-range");
    assertCodecError(() => encodedBytesLength(1.5), "out-of-range");
  });
});

describe("memcomparable bytes: properties", () => {
  it("round-trips and has the predicted length", () => {
    fc.assert(
      fc.property(byteString, (value) => {
        const encoded = encodeBytes(value);
        assert.equal(encoded.length, encodedBytesLength(value.length));
        assert.deepEqual(decodeBytes(encoded, 0), { value, nextOffset: encoded.length });
        assert.deepEqual(decodeBytesDesc(encodeBytesDesc(value), 0), { value, nextOffset: encoded.length });
      }),
      RUNS,
    );
  });

  it("orders encodings like the values, and descending encodings in reverse", () => {
    fc.assert(
      fc.property(byteStringPair, ([left, right]) => {
        const expected = oracleCompareBytes(left, right);
        assert.equal(oracleCompareBytes(encodeBytes(left), encodeBytes(right)), expected);
        assert.equal(oracleCompareBytes(encodeBytesDesc(right), encodeBytesDesc(left)), expected);
      }),
      RUNS,
    );
  });

  it("decodes several encodings laid end to end", () => {
    fc.assert(
      fc.property(fc.array(byteString, { maxLength: 6 }), (values) => {
        assertSelfDelimiting(values, encodeBytes, decodeBytes);
        assertSelfDelimiting(values, encodeBytesDesc, decodeBytesDesc);
      }),
      RUNS,
    );
  });

  it("writes into a reused buffer at an offset exactly what encodeBytes returns", () => {
    fc.assert(
      fc.property(byteString, fc.nat({ max: 5 }), (value, offset) => {
        const length = encodedBytesLength(value.length);
        const target = new Uint8Array(offset + length).fill(0xaa);
        assert.equal(writeBytes(target, offset, value), offset + length);
        assert.deepEqual(target.subarray(offset), encodeBytes(value));
        assertCodecError(() => writeBytes(target, offset + 1, value), "buffer-too-small");
      }),
      RUNS,
    );
  });
});

describe("memcomparable bytes: malformed input", () => {
  it("rejects every truncation as truncated", () => {
    fc.assert(
      fc.property(byteString, (value) => {
        const ascending = encodeBytes(value);
        const descending = encodeBytesDesc(value);
        for (let length = 0; length < ascending.length; length++) {
          assertCodecError(() => decodeBytes(ascending.subarray(0, length), 0), "truncated");
          assertCodecError(() => decodeBytesDesc(descending.subarray(0, length), 0), "truncated");
        }
      }),
      RUNS,
    );
  });

  it("rejects a marker below 0xF7", () => {
    fc.assert(
      fc.property(byteString, fc.nat(), fc.integer({ min: 0, max: 0xf6 }), (value, groupPick, marker) => {
        const encoded = encodeBytes(value);
        const groupCount = encoded.length / 9;
        const markerOffset = (groupPick % groupCount) * 9 + 8;
        encoded[markerOffset] = marker;
        assertCodecError(() => decodeBytes(encoded, 0), "bad-marker");
        const descending = encodeBytesDesc(value);
        descending[markerOffset] = ~marker;
        assertCodecError(() => decodeBytesDesc(descending, 0), "bad-marker");
      }),
      RUNS,
    );
  });

  it("rejects padding that is not the pad byte", () => {
    fc.assert(
      fc.property(byteString, fc.nat(), fc.integer({ min: 1, max: 0xff }), (value, padPick, noise) => {
        const encoded = encodeBytes(value);
        const padLength = 8 - (value.length % 8);
        const padOffset = encoded.length - 2 - (padPick % padLength);
        encoded[padOffset] = noise;
        assertCodecError(() => decodeBytes(encoded, 0), "non-zero-padding");
        const descending = encodeBytesDesc(value);
        descending[padOffset] = ~noise;
        assertCodecError(() => decodeBytesDesc(descending, 0), "non-zero-padding");
      }),
      RUNS,
    );
  });

  it("either rejects arbitrary bytes or decodes them to a value that encodes back to them", () => {
    const noisy = fc
      .array(fc.oneof(fc.constant(0), fc.constant(0xff), fc.integer({ min: 0xf6, max: 0xff }), fc.nat(255)), {
        maxLength: 40,
      })
      .map((values) => Uint8Array.from(values));
    fc.assert(
      fc.property(noisy, (buffer) => {
        assertDecodesCanonicallyOrRejects(buffer, decodeBytes, encodeBytes);
        assertDecodesCanonicallyOrRejects(buffer, decodeBytesDesc, encodeBytesDesc);
      }),
      RUNS,
    );
  });

  it("rejects offsets that are not positions in the buffer", () => {
    const encoded = encodeBytes(bytes(1));
    assertCodecError(() => decodeBytes(encoded, -1), "out-of-range");
    assertCodecError(() => decodeBytes(encoded, 0.5), "out-of-range");
    assertCodecError(() => decodeBytes(encoded, encoded.length + 1), "out-of-range");
    assertCodecError(() => decodeBytes(encoded, encoded.length), "truncated");
  });
});
