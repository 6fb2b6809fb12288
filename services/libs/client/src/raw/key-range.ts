/**
 * Byte-key range arithmetic where an empty key means "unbounded" at the end of a range (and "from the very
 * first key" at its start), as in region ranges and scan bounds.
 */
import { compareBytes } from "#codec";

/** The smaller of two exclusive end keys (empty = unbounded). */
export function earlierEnd(first: Uint8Array, second: Uint8Array): Uint8Array {
  if (first.length === 0) return second;
  if (second.length === 0) return first;
  return compareBytes(first, second) <= 0 ? first : second;
}

/** The larger of two inclusive start keys. */
export function laterStart(first: Uint8Array, second: Uint8Array): Uint8Array {
  return compareBytes(first, second) >= 0 ? first : second;
}

/** True when a region ending at `regionEnd` covers everything up to `rangeEnd`. */
export function endReaches(regionEnd: Uint8Array, rangeEnd: Uint8Array): boolean {
  return regionEnd.length === 0 || (rangeEnd.length > 0 && compareBytes(regionEnd, rangeEnd) >= 0);
}

/** True when a region starting at `regionStart` covers everything down to `rangeStart`. */
export function startReaches(regionStart: Uint8Array, rangeStart: Uint8Array): boolean {
  return regionStart.length === 0 || compareBytes(regionStart, rangeStart) <= 0;
}

/** The smallest key greater than `key`. */
export function successorKey(key: Uint8Array): Uint8Array {
  const next = new Uint8Array(key.length + 1);
  next.set(key);
  return next;
}

export function keyHex(key: Uint8Array): string {
  return Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString("hex");
}
