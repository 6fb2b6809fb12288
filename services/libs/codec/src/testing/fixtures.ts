/*
 * Generators and assertions shared by this library's tests (not part of the public API). The generators
 * lean towards the values where memcomparable encodings break: 0x00 and 0xFF bytes (pad and marker
 * values), lengths across 8-byte group boundaries, integer and float extremes.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { CodecError, type CodecErrorReason } from "../codec-error.ts";
import { INT64_MAX, INT64_MIN, UINT64_MAX } from "../integer-range.ts";

export const RUNS = { numRuns: 1000 } as const;

const edgyByte = fc.oneof(fc.constant(0x00), fc.constant(0xff), fc.integer({ min: 0, max: 255 }));

/** Byte strings of 0..24 bytes, so 0, 1, 2 and 3 groups with every amount of padding occur. */
export const byteString = fc.array(edgyByte, { maxLength: 24 }).map((bytes) => Uint8Array.from(bytes));

/** Pairs of byte strings where, half of the time, one is a prefix of the other. */
export const byteStringPair = fc.oneof(
  fc.tuple(byteString, byteString),
  fc
    .tuple(byteString, byteString, fc.boolean())
    .map(([prefix, suffix, swap]): [Uint8Array, Uint8Array] =>
      swap ? [concatBytes([prefix, suffix]), prefix] : [prefix, concatBytes([prefix, suffix])],
    ),
);

export const uint64 = fc.oneof(
  fc.constantFrom(0n, 1n, 255n, 256n, (1n << 63n) - 1n, 1n << 63n, UINT64_MAX - 1n, UINT64_MAX),
  fc.bigInt({ min: 0n, max: 1n << 20n }),
  fc.bigInt({ min: 0n, max: UINT64_MAX }),
);

export const int64 = fc.oneof(
  fc.constantFrom(INT64_MIN, INT64_MIN + 1n, -256n, -1n, 0n, 1n, 255n, INT64_MAX - 1n, INT64_MAX),
  fc.bigInt({ min: -(1n << 20n), max: 1n << 20n }),
  fc.bigInt({ min: INT64_MIN, max: INT64_MAX }),
);

const SMALLEST_NORMAL = 2.2250738585072014e-308;
const LARGEST_SUBNORMAL = 2.225073858507201e-308;

/** Every float64 but NaN, with infinities, both zeros, subnormals and the extremes made likely. */
export const float64 = fc.oneof(
  fc.constantFrom(
    0,
    -0,
    Number.POSITIVE_INFINITY,
    Number.NEGATIVE_INFINITY,
    Number.MAX_VALUE,
    -Number.MAX_VALUE,
    Number.MIN_VALUE,
    -Number.MIN_VALUE,
    SMALLEST_NORMAL,
    -SMALLEST_NORMAL,
    LARGEST_SUBNORMAL,
    -LARGEST_SUBNORMAL,
    1,
    -1,
  ),
  fc.double({ noNaN: true }),
  fc.double({ noNaN: true, min: -SMALLEST_NORMAL, max: SMALLEST_NORMAL }),
);

export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  const joined = new Uint8Array(parts.reduce((total, part) => total + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    joined.set(part, offset);
    offset += part.length;
  }
  return joined;
}

/** The test oracle for byte order: Node's native comparison, independent of the code under test. */
export function oracleCompareBytes(left: Uint8Array, right: Uint8Array): number {
  return Buffer.compare(left, right);
}

export function compareValues<T extends bigint | number>(left: T, right: T): number {
  if (left < right) {
    return -1;
  }
  return left > right ? 1 : 0;
}

export function assertCodecError(run: () => unknown, reason: CodecErrorReason): void {
  assert.throws(run, (error: unknown) => {
    assert.ok(error instanceof CodecError, `expected a CodecError, got ${String(error)}`);
    assert.equal(error.reason, reason, error.message);
    return true;
  });
}

/**
 * Decoding arbitrary bytes must either fail with a CodecError or return a value whose encoding is exactly
 * the bytes it consumed: it never returns garbage, and never fails with anything else.
 */
export function assertDecodesCanonicallyOrRejects<T>(
  buffer: Uint8Array,
  decode: (buffer: Uint8Array, offset: number) => { readonly value: T; readonly nextOffset: number },
  encode: (value: T) => Uint8Array,
): void {
  let decoded: { readonly value: T; readonly nextOffset: number };
  try {
    decoded = decode(buffer, 0);
  } catch (error) {
    assert.ok(error instanceof CodecError, `expected a CodecError, got ${String(error)}`);
    return;
  }
  assert.deepEqual(encode(decoded.value), buffer.subarray(0, decoded.nextOffset));
}

/** Decodes values laid one after another and checks each value and each boundary. */
export function assertSelfDelimiting<T>(
  values: readonly T[],
  encode: (value: T) => Uint8Array,
  decode: (buffer: Uint8Array, offset: number) => { readonly value: T; readonly nextOffset: number },
): void {
  const encodings = values.map(encode);
  const buffer = concatBytes(encodings);
  let offset = 0;
  values.forEach((value, index) => {
    const decoded = decode(buffer, offset);
    assert.deepEqual(decoded.value, value);
    offset += encodings[index].length;
    assert.equal(decoded.nextOffset, offset);
  });
  assert.equal(offset, buffer.length);
}
