import { requireReadable, requireWritable } from "./buffer-bounds.ts";
import type { Decoded } from "./decoded.ts";
import { requireInt64, requireUint64 } from "./integer-range.ts";
import { copyScratchTo, loadScratchFrom, scratchBytes, scratchView } from "./scratch-word.ts";
import { ASCENDING, DESCENDING } from "./sort-direction.ts";

/*
 * Fixed-width memcomparable integers: 8 bytes big-endian, so byte order is numeric order. Signed values
 * are two's complement with the sign bit flipped, which moves negatives (sign bit 1) below non-negatives.
 * Descending variants invert every bit: ~v sorts in reverse, which is how MVCC keys put newer versions first.
 */

export const INTEGER_SIZE = 8;
const SIGN_BIT = 0x80;

export function writeUint64(target: Uint8Array, offset: number, value: bigint): number {
  return writeUnsigned(target, offset, value, ASCENDING);
}

export function writeUint64Desc(target: Uint8Array, offset: number, value: bigint): number {
  return writeUnsigned(target, offset, value, DESCENDING);
}

export function writeInt64(target: Uint8Array, offset: number, value: bigint): number {
  return writeSigned(target, offset, value, ASCENDING);
}

export function writeInt64Desc(target: Uint8Array, offset: number, value: bigint): number {
  return writeSigned(target, offset, value, DESCENDING);
}

export function encodeUint64(value: bigint): Uint8Array {
  return encodeWith(writeUint64, value);
}

export function encodeUint64Desc(value: bigint): Uint8Array {
  return encodeWith(writeUint64Desc, value);
}

export function encodeInt64(value: bigint): Uint8Array {
  return encodeWith(writeInt64, value);
}

export function encodeInt64Desc(value: bigint): Uint8Array {
  return encodeWith(writeInt64Desc, value);
}

export function decodeUint64(buffer: Uint8Array, offset: number): Decoded<bigint> {
  return readUnsigned(buffer, offset, ASCENDING);
}

export function decodeUint64Desc(buffer: Uint8Array, offset: number): Decoded<bigint> {
  return readUnsigned(buffer, offset, DESCENDING);
}

export function decodeInt64(buffer: Uint8Array, offset: number): Decoded<bigint> {
  return readSigned(buffer, offset, ASCENDING);
}

export function decodeInt64Desc(buffer: Uint8Array, offset: number): Decoded<bigint> {
  return readSigned(buffer, offset, DESCENDING);
}

function encodeWith(
  write: (target: Uint8Array, offset: number, value: bigint) => number,
  value: bigint,
): Uint8Array {
  const encoded = new Uint8Array(INTEGER_SIZE);
  write(encoded, 0, value);
  return encoded;
}

function writeUnsigned(target: Uint8Array, offset: number, value: bigint, flip: number): number {
  requireUint64(value);
  requireWritable(target, offset, INTEGER_SIZE);
  scratchView.setBigUint64(0, value);
  copyScratchTo(target, offset, flip);
  return offset + INTEGER_SIZE;
}

function writeSigned(target: Uint8Array, offset: number, value: bigint, flip: number): number {
  requireInt64(value);
  requireWritable(target, offset, INTEGER_SIZE);
  scratchView.setBigInt64(0, value);
  scratchBytes[0] ^= SIGN_BIT;
  copyScratchTo(target, offset, flip);
  return offset + INTEGER_SIZE;
}

function readUnsigned(buffer: Uint8Array, offset: number, flip: number): Decoded<bigint> {
  requireReadable(buffer, offset, INTEGER_SIZE);
  loadScratchFrom(buffer, offset, flip);
  return { value: scratchView.getBigUint64(0), nextOffset: offset + INTEGER_SIZE };
}

function readSigned(buffer: Uint8Array, offset: number, flip: number): Decoded<bigint> {
  requireReadable(buffer, offset, INTEGER_SIZE);
  loadScratchFrom(buffer, offset, flip);
  scratchBytes[0] ^= SIGN_BIT;
  return { value: scratchView.getBigInt64(0), nextOffset: offset + INTEGER_SIZE };
}
