import { requireReadable, requireWritable } from "./buffer-bounds.ts";
import { CodecError } from "./codec-error.ts";
import type { Decoded } from "./decoded.ts";
import { requireInt64, requireUint64 } from "./integer-range.ts";

/*
 * Compact variable-length integers (LEB128): 7 bits per byte, least significant group first, the high
 * bit set on every byte but the last. Small numbers take one byte, 2^64-1 takes ten. They do NOT sort
 * like their values, so they belong in values and lengths, never in keys. Signed values are zig-zag
 * mapped first (0, -1, 1, -2, ... -> 0, 1, 2, 3, ...) so small negatives stay short too.
 *
 * Decoding accepts only the shortest form (no trailing 0x00 continuation groups), so every value has
 * exactly one encoding and a checksum or equality check over encoded bytes means equality of values.
 */

export const MAX_VARINT_SIZE = 10;
const CONTINUATION_BIT = 0x80;
const PAYLOAD_MASK = 0x7f;
const PAYLOAD_MASK_BIGINT = 0x7fn;
const MAX_SAFE_BIGINT = BigInt(Number.MAX_SAFE_INTEGER);
/** Bytes whose payloads fit a double exactly (7 x 7 = 49 bits < 53), so decoding them needs no bigint. */
const EXACT_NUMBER_BYTES = 7;

export function uvarintLength(value: bigint): number {
  requireUint64(value);
  let length = 1;
  for (let rest = value >> 7n; rest > 0n; rest >>= 7n) {
    length++;
  }
  return length;
}

export function varintLength(value: bigint): number {
  requireInt64(value);
  return uvarintLength(zigZag(value));
}

export function writeUvarint(target: Uint8Array, offset: number, value: bigint): number {
  requireWritable(target, offset, uvarintLength(value));
  return writeCheckedUvarint(target, offset, value);
}

export function writeVarint(target: Uint8Array, offset: number, value: bigint): number {
  requireInt64(value);
  return writeUvarint(target, offset, zigZag(value));
}

export function encodeUvarint(value: bigint): Uint8Array {
  const encoded = new Uint8Array(uvarintLength(value));
  writeCheckedUvarint(encoded, 0, value);
  return encoded;
}

export function encodeVarint(value: bigint): Uint8Array {
  const encoded = new Uint8Array(varintLength(value));
  writeCheckedUvarint(encoded, 0, zigZag(value));
  return encoded;
}

export function decodeUvarint(buffer: Uint8Array, offset: number): Decoded<bigint> {
  requireReadable(buffer, offset, 1);
  let small = 0;
  let scale = 1;
  for (let index = 0; index < EXACT_NUMBER_BYTES; index++) {
    const byte = readVarintByte(buffer, offset, index);
    small += (byte & PAYLOAD_MASK) * scale;
    if (byte < CONTINUATION_BIT) {
      return { value: BigInt(small), nextOffset: offset + index + 1 };
    }
    scale *= 128;
  }
  return decodeLargeUvarint(buffer, offset, BigInt(small));
}

export function decodeVarint(buffer: Uint8Array, offset: number): Decoded<bigint> {
  const { value, nextOffset } = decodeUvarint(buffer, offset);
  return { value: unZigZag(value), nextOffset };
}

/** Writes a value whose range and room in `target` the caller has already checked. */
function writeCheckedUvarint(target: Uint8Array, offset: number, value: bigint): number {
  if (value <= MAX_SAFE_BIGINT) {
    return writeSmallUvarint(target, offset, Number(value));
  }
  let position = offset;
  let rest = value;
  for (; rest > PAYLOAD_MASK_BIGINT; rest >>= 7n) {
    target[position++] = Number(rest & PAYLOAD_MASK_BIGINT) | CONTINUATION_BIT;
  }
  target[position++] = Number(rest);
  return position;
}

function writeSmallUvarint(target: Uint8Array, offset: number, value: number): number {
  let position = offset;
  let rest = value;
  // Division instead of shifts: JavaScript shifts work on 32 bits, safe integers reach 53.
  for (; rest > PAYLOAD_MASK; rest = Math.floor(rest / 128)) {
    target[position++] = (rest % 128) | CONTINUATION_BIT;
  }
  target[position++] = rest;
  return position;
}

/** Continues a decode past the bytes a double holds exactly; at most 3 more bytes reach the 10-byte limit. */
function decodeLargeUvarint(buffer: Uint8Array, offset: number, low: bigint): Decoded<bigint> {
  let value = low;
  for (let index = EXACT_NUMBER_BYTES; index < MAX_VARINT_SIZE; index++) {
    const byte = readVarintByte(buffer, offset, index);
    value |= BigInt(byte & PAYLOAD_MASK) << BigInt(7 * index);
    if (byte < CONTINUATION_BIT) {
      // The tenth byte carries bit 63 alone; a larger payload would not fit 64 bits.
      if (index === MAX_VARINT_SIZE - 1 && byte > 1) {
        throw new CodecError("out-of-range", "varint exceeds 64 bits", offset + index);
      }
      return { value, nextOffset: offset + index + 1 };
    }
  }
  throw new CodecError("out-of-range", "varint runs past 10 bytes", offset + MAX_VARINT_SIZE - 1);
}

function readVarintByte(buffer: Uint8Array, offset: number, index: number): number {
  const position = offset + index;
  if (position >= buffer.length) {
    throw new CodecError("truncated", "varint ends without a final byte", buffer.length);
  }
  const byte = buffer[position];
  if (byte === 0 && index > 0) {
    throw new CodecError("non-canonical", "varint has a redundant zero group", position);
  }
  return byte;
}

function zigZag(value: bigint): bigint {
  return value >= 0n ? value << 1n : (-value << 1n) - 1n;
}

function unZigZag(value: bigint): bigint {
  return (value & 1n) === 0n ? value >> 1n : -(value >> 1n) - 1n;
}
