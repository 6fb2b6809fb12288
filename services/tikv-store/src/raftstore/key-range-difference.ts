/**
 * Set difference of user key ranges [startKey, endKey) (empty end = unbounded), for finding the keys a
 * shrinking region leaves behind that no other region owns.
 */
import { compareBytes } from "#codec";
import { rangesOverlap } from "./region-meta.ts";

export interface KeyRange {
  readonly startKey: Uint8Array;
  /** Exclusive; empty means unbounded. */
  readonly endKey: Uint8Array;
}

/** The parts of `range` covered by none of `cuts`, in key order. */
export function rangeDifference(range: KeyRange, cuts: readonly KeyRange[]): KeyRange[] {
  let pieces: KeyRange[] = [{ startKey: range.startKey, endKey: range.endKey }];
  for (const cut of cuts) pieces = pieces.flatMap((piece) => subtract(piece, cut));
  return pieces.sort((left, right) => compareBytes(left.startKey, right.startKey));
}

function subtract(piece: KeyRange, cut: KeyRange): KeyRange[] {
  if (!rangesOverlap(piece.startKey, piece.endKey, cut.startKey, cut.endKey)) return [piece];
  const parts: KeyRange[] = [];
  if (compareBytes(piece.startKey, cut.startKey) < 0) {
    parts.push({ startKey: piece.startKey, endKey: cut.startKey });
  }
  if (cut.endKey.length > 0 && endsBefore(cut.endKey, piece.endKey)) {
    parts.push({ startKey: cut.endKey, endKey: piece.endKey });
  }
  return parts;
}

/** `end` (non-empty) comes before `other`, where an empty `other` is unbounded. */
function endsBefore(end: Uint8Array, other: Uint8Array): boolean {
  return other.length === 0 || compareBytes(end, other) < 0;
}
