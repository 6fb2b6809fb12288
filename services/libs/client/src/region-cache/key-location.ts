import { compareBytes } from "#codec";
import type { RegionVerId } from "./region-ver-id.ts";

/** Where a key lives: the region (as cached when located) and its range [startKey, endKey). */
export interface KeyLocation {
  readonly region: RegionVerId;
  readonly startKey: Uint8Array;
  /** Exclusive; empty means the range is unbounded above. */
  readonly endKey: Uint8Array;
}

/** True when startKey <= key < endKey (an empty endKey bounds nothing). */
export function locationContains(location: KeyLocation, key: Uint8Array): boolean {
  return rangeContains(location.startKey, location.endKey, key);
}

export function rangeContains(startKey: Uint8Array, endKey: Uint8Array, key: Uint8Array): boolean {
  return compareBytes(startKey, key) <= 0 && (endKey.length === 0 || compareBytes(key, endKey) < 0);
}
