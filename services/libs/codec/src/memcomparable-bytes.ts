import { requireReadable, requireWritable } from "./buffer-bounds.ts";
import { CodecError } from "./codec-error.ts";
import type { Decoded } from "./decoded.ts";
import { ASCENDING, DESCENDING } from "./sort-direction.ts";

/*
 * Memcomparable byte strings. The value is cut into groups of 8 bytes; each group is written padded with
 * 0x00 and followed by a marker byte 0xFF - (number of pad bytes). A full group that is not the last has
 * marker 0xFF, so the last group always has 1..8 pad bytes (8 when the length is a multiple of 8).
 * Comparing two encodings byte by byte compares the values: inside a group the bytes decide; when one
 * value ends inside the group, its zero padding ties with the other's bytes or loses, and then its smaller
 * marker (more padding) makes the shorter value sort first. The marker also makes the encoding
 * self-delimiting, so it can be followed by other encodings in one key.
 */

const GROUP_SIZE = 8;
export const ENCODED_GROUP_SIZE = GROUP_SIZE + 1;
const FULL_GROUP_MARKER = 0xff;

/** Length of the encoding of a `valueLength`-byte value: one 9-byte group per started 8 bytes, plus one. */
export function encodedBytesLength(valueLength: number): number {
  if (!Number.isSafeInteger(valueLength) || valueLength < 0) {
    throw new CodecError("out-of-range", `${valueLength} is not a byte length`);
  }
  return (Math.floor(valueLength / GROUP_SIZE) + 1) * ENCODED_GROUP_SIZE;
}

export function encodeBytes(value: Uint8Array): Uint8Array {
  const encoded = new Uint8Array(encodedBytesLength(value.length));
  writeGroups(encoded, 0, value, ASCENDING);
  return encoded;
}

/** Sorts in the reverse order of `encodeBytes`: the same encoding with every bit inverted. */
export function encodeBytesDesc(value: Uint8Array): Uint8Array {
  const encoded = new Uint8Array(encodedBytesLength(value.length));
  writeGroups(encoded, 0, value, DESCENDING);
  return encoded;
}

/** Writes `encodeBytes(value)` into `target` at `offset`, for building compound keys in one allocation. */
export function writeBytes(target: Uint8Array, offset: number, value: Uint8Array): number {
  requireWritable(target, offset, encodedBytesLength(value.length));
  return writeGroups(target, offset, value, ASCENDING);
}

export function writeBytesDesc(target: Uint8Array, offset: number, value: Uint8Array): number {
  requireWritable(target, offset, encodedBytesLength(value.length));
  return writeGroups(target, offset, value, DESCENDING);
}

export function decodeBytes(buffer: Uint8Array, offset: number): Decoded<Uint8Array> {
  return readGroups(buffer, offset, ASCENDING);
}

export function decodeBytesDesc(buffer: Uint8Array, offset: number): Decoded<Uint8Array> {
  return readGroups(buffer, offset, DESCENDING);
}

function writeGroups(target: Uint8Array, offset: number, value: Uint8Array, flip: number): number {
  let position = offset;
  for (let source = 0; ; source += GROUP_SIZE) {
    const taken = Math.min(GROUP_SIZE, value.length - source);
    for (let index = 0; index < taken; index++) {
      target[position + index] = value[source + index] ^ flip;
    }
    // The target may be a reused buffer, so the padding is written rather than assumed to be zero.
    for (let index = taken; index < GROUP_SIZE; index++) {
      target[position + index] = flip;
    }
    target[position + GROUP_SIZE] = (FULL_GROUP_MARKER - (GROUP_SIZE - taken)) ^ flip;
    position += ENCODED_GROUP_SIZE;
    if (taken < GROUP_SIZE) {
      return position;
    }
  }
}

function readGroups(buffer: Uint8Array, offset: number, flip: number): Decoded<Uint8Array> {
  const valueLength = measureEncodedValue(buffer, offset, flip);
  const value = new Uint8Array(valueLength);
  let source = offset;
  for (let written = 0; written < valueLength; written += GROUP_SIZE) {
    const taken = Math.min(GROUP_SIZE, valueLength - written);
    for (let index = 0; index < taken; index++) {
      value[written + index] = buffer[source + index] ^ flip;
    }
    source += ENCODED_GROUP_SIZE;
  }
  return { value, nextOffset: offset + encodedBytesLength(valueLength) };
}

/**
 * Validates the encoding at `offset` and returns the length of the value it holds. Validating before
 * copying means malformed input never yields a partial value; the loop advances 9 bytes per turn and
 * stops at the end of the buffer, so it is bounded by the buffer's length.
 */
function measureEncodedValue(buffer: Uint8Array, offset: number, flip: number): number {
  for (let groupStart = offset; ; groupStart += ENCODED_GROUP_SIZE) {
    requireReadable(buffer, groupStart, ENCODED_GROUP_SIZE);
    const markerOffset = groupStart + GROUP_SIZE;
    const marker = buffer[markerOffset] ^ flip;
    if (marker !== FULL_GROUP_MARKER) {
      const padLength = FULL_GROUP_MARKER - marker;
      if (padLength > GROUP_SIZE) {
        throw new CodecError(
          "bad-marker",
          `group marker 0x${marker.toString(16)} is below 0xf7`,
          markerOffset,
        );
      }
      requirePadding(buffer, markerOffset - padLength, markerOffset, flip);
      const fullGroups = (groupStart - offset) / ENCODED_GROUP_SIZE;
      return fullGroups * GROUP_SIZE + GROUP_SIZE - padLength;
    }
  }
}

/** Non-zero padding would give one value two encodings and break the order, so it is rejected. */
function requirePadding(buffer: Uint8Array, start: number, end: number, flip: number): void {
  for (let position = start; position < end; position++) {
    if (buffer[position] !== flip) {
      throw new CodecError("non-zero-padding", "padding of the last group is not zero", position);
    }
  }
}
