import { requireReadable, requireWritable } from "./buffer-bounds.ts";
import { CodecError } from "./codec-error.ts";
import type { Decoded } from "./decoded.ts";
import { copyScratchTo, loadScratchFrom, scratchBytes, scratchView } from "./scratch-word.ts";
import { ASCENDING, DESCENDING } from "./sort-direction.ts";

/*
 * Memcomparable float64: the IEEE 754 bits big-endian, with the sign bit set for non-negative values and
 * all bits inverted for negative ones. IEEE bits of non-negative floats already sort like the values;
 * setting the sign bit lifts them above all negatives, whose bits sort in reverse and so are inverted.
 *
 * Decisions:
 * - NaN is rejected with CodecError("not-a-number"): it compares unequal to everything, so no position in
 *   the order is right, and silently placing it would make "a < b" in keys disagree with SQL comparisons.
 * - -0 is normalised to +0 before encoding: -0 === +0 in JavaScript and SQL, and equal values must have
 *   equal encodings or an equality lookup by key would miss. Decoding therefore never returns -0, and the
 *   bytes that would mean -0 (0x7FFF...FF ascending) are rejected as non-canonical, as are NaN's bytes.
 */

export const FLOAT_SIZE = 8;
const SIGN_BIT = 0x80;

export function writeFloat64(target: Uint8Array, offset: number, value: number): number {
  return writeFloat(target, offset, value, ASCENDING);
}

export function writeFloat64Desc(target: Uint8Array, offset: number, value: number): number {
  return writeFloat(target, offset, value, DESCENDING);
}

export function encodeFloat64(value: number): Uint8Array {
  const encoded = new Uint8Array(FLOAT_SIZE);
  writeFloat(encoded, 0, value, ASCENDING);
  return encoded;
}

export function encodeFloat64Desc(value: number): Uint8Array {
  const encoded = new Uint8Array(FLOAT_SIZE);
  writeFloat(encoded, 0, value, DESCENDING);
  return encoded;
}

export function decodeFloat64(buffer: Uint8Array, offset: number): Decoded<number> {
  return readFloat(buffer, offset, ASCENDING);
}

export function decodeFloat64Desc(buffer: Uint8Array, offset: number): Decoded<number> {
  return readFloat(buffer, offset, DESCENDING);
}

function writeFloat(target: Uint8Array, offset: number, value: number, flip: number): number {
  if (Number.isNaN(value)) {
    throw new CodecError("not-a-number", "NaN has no order and cannot be encoded");
  }
  requireWritable(target, offset, FLOAT_SIZE);
  scratchView.setFloat64(0, value === 0 ? 0 : value);
  if ((scratchBytes[0] & SIGN_BIT) === 0) {
    scratchBytes[0] ^= SIGN_BIT;
  } else {
    invertScratch();
  }
  copyScratchTo(target, offset, flip);
  return offset + FLOAT_SIZE;
}

function readFloat(buffer: Uint8Array, offset: number, flip: number): Decoded<number> {
  requireReadable(buffer, offset, FLOAT_SIZE);
  loadScratchFrom(buffer, offset, flip);
  if ((scratchBytes[0] & SIGN_BIT) === 0) {
    invertScratch();
  } else {
    scratchBytes[0] ^= SIGN_BIT;
  }
  const value = scratchView.getFloat64(0);
  if (Number.isNaN(value)) {
    throw new CodecError("not-a-number", "the bytes encode NaN", offset);
  }
  if (Object.is(value, -0)) {
    throw new CodecError("non-canonical", "the bytes encode -0, which is always encoded as +0", offset);
  }
  return { value, nextOffset: offset + FLOAT_SIZE };
}

function invertScratch(): void {
  for (let index = 0; index < FLOAT_SIZE; index++) {
    scratchBytes[index] ^= 0xff;
  }
}
