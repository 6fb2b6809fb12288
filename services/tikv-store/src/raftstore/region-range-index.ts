/**
 * The key ranges of the store's initialized regions, ordered by start key. Ranges never overlap: a
 * region enters only after the store checked no other region covers any of its keys (peer creation,
 * snapshot, split), and every change of a range goes through `replace`, which asserts it.
 */
import { compareBytes } from "#codec";
import type { metapb } from "#proto";
import { describeRegion, rangesOverlap } from "./region-meta.ts";

export class RangeIndexInvariantError extends Error {
  override readonly name = "RangeIndexInvariantError";
}

export class RegionRangeIndex {
  /** Sorted by start key; regions are few enough (thousands) that array inserts stay cheap. */
  private readonly regions: metapb.Region[] = [];

  get size(): number {
    return this.regions.length;
  }

  /** Regions overlapping [startKey, endKey) (empty end unbounded), in key order. */
  overlapping(startKey: Uint8Array, endKey: Uint8Array): metapb.Region[] {
    const found: metapb.Region[] = [];
    for (let index = Math.max(0, this.upperBound(startKey) - 1); index < this.regions.length; index++) {
      const region = this.regions[index]!;
      if (endKey.length > 0 && compareBytes(region.startKey, endKey) >= 0) break;
      if (rangesOverlap(startKey, endKey, region.startKey, region.endKey)) found.push(region);
    }
    return found;
  }

  /** Up to `limit` regions starting at `region`'s end key and following each other without a gap. */
  rightSiblings(region: metapb.Region, limit: number): metapb.Region[] {
    const siblings: metapb.Region[] = [];
    let nextStart = region.endKey;
    while (nextStart.length > 0 && siblings.length < limit) {
      const index = this.upperBound(nextStart) - 1;
      const next = this.regions[index];
      if (next === undefined || compareBytes(next.startKey, nextStart) !== 0) break;
      siblings.push(next);
      nextStart = next.endKey;
    }
    return siblings;
  }

  /** Inserts `added` after removing `removed` (by id); throws if the result would overlap. */
  replace(removed: readonly metapb.Region[], added: readonly metapb.Region[]): void {
    for (const region of removed) this.removeById(region.id);
    for (const region of added) this.insert(region);
  }

  removeById(regionId: bigint): void {
    const index = this.regions.findIndex((region) => region.id === regionId);
    if (index >= 0) this.regions.splice(index, 1);
  }

  private insert(region: metapb.Region): void {
    const conflicts = this.overlapping(region.startKey, region.endKey);
    if (conflicts.length > 0) {
      throw new RangeIndexInvariantError(
        `${describeRegion(region)} overlaps ${conflicts.map(describeRegion).join(", ")}`,
      );
    }
    this.regions.splice(this.upperBound(region.startKey), 0, region);
  }

  /** Index of the first region whose start key is greater than `key`. */
  private upperBound(key: Uint8Array): number {
    let low = 0;
    let high = this.regions.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (compareBytes(this.regions[middle]!.startKey, key) <= 0) low = middle + 1;
      else high = middle;
    }
    return low;
  }
}
