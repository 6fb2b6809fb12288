/**
 * Cached regions ordered by start key, never overlapping: inserting a region evicts every cached region
 * its range overlaps (they are older views of a split, merge or move). A sorted array with binary search:
 * lookups are O(log n) and inserts O(n) memmove, which for the tens of thousands of regions a client
 * caches costs microseconds.
 */
import { compareBytes } from "#codec";
import type { CachedRegion } from "./cached-region.ts";
import { rangeContains } from "./key-location.ts";

export class RegionTree {
  private readonly regions: CachedRegion[] = [];

  get size(): number {
    return this.regions.length;
  }

  /** The region containing `key`. */
  find(key: Uint8Array): CachedRegion | undefined {
    const candidate = this.regions[this.lastStartingAtOrBefore(key)];
    return candidate !== undefined && rangeContains(candidate.meta.startKey, candidate.meta.endKey, key)
      ? candidate
      : undefined;
  }

  /** The region containing the keys just below `key` (start < key <= end); empty `key` = +infinity. */
  findByEnd(key: Uint8Array): CachedRegion | undefined {
    if (key.length === 0) {
      const last = this.regions.at(-1);
      return last?.meta.endKey.length === 0 ? last : undefined;
    }
    const candidate = this.lastStartingBefore(key);
    if (candidate === undefined) return undefined;
    const endKey = candidate.meta.endKey;
    return endKey.length === 0 || compareBytes(key, endKey) <= 0 ? candidate : undefined;
  }

  /** The cached region with the greatest start key below `key` (empty `key` = +infinity), if any. */
  lastStartingBefore(key: Uint8Array): CachedRegion | undefined {
    if (key.length === 0) return this.regions.at(-1);
    return this.regions[this.countStartingBefore(key, false) - 1];
  }

  /** Inserts `region` and returns the regions it evicted. */
  insert(region: CachedRegion): CachedRegion[] {
    const { startKey, endKey } = region.meta;
    let first = this.lastStartingAtOrBefore(startKey);
    const before = this.regions[first];
    if (before === undefined || !overlaps(before, startKey)) first++;
    let last = first;
    while (last < this.regions.length && startsBefore(this.regions[last]!, endKey)) last++;
    return this.regions.splice(first, last - first, region);
  }

  /** Removes exactly this entry; false when it is no longer in the tree. */
  remove(region: CachedRegion): boolean {
    const index = this.lastStartingAtOrBefore(region.meta.startKey);
    if (this.regions[index] !== region) return false;
    this.regions.splice(index, 1);
    return true;
  }

  clear(): void {
    this.regions.length = 0;
  }

  /** Index of the region with the greatest start key <= key, or -1. */
  private lastStartingAtOrBefore(key: Uint8Array): number {
    return this.countStartingBefore(key, true) - 1;
  }

  /** How many regions start before `key` (or at it, with `orAt`): a binary search over the sorted starts. */
  private countStartingBefore(key: Uint8Array, orAt: boolean): number {
    const limit = orAt ? 0 : -1;
    let low = 0;
    let high = this.regions.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (compareBytes(this.regions[middle]!.meta.startKey, key) <= limit) low = middle + 1;
      else high = middle;
    }
    return low;
  }
}

/** Whether `region` (starting at or before `startKey`) reaches past it. */
function overlaps(region: CachedRegion, startKey: Uint8Array): boolean {
  const endKey = region.meta.endKey;
  return endKey.length === 0 || compareBytes(startKey, endKey) < 0;
}

function startsBefore(region: CachedRegion, endKey: Uint8Array): boolean {
  return endKey.length === 0 || compareBytes(region.meta.startKey, endKey) < 0;
}
