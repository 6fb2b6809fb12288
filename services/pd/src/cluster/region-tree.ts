/**
 * The regions pd knows, ordered by start key so "which region holds this key" is a binary search.
 *
 * Regions never overlap in the tree. A heartbeat carrying a newer view of the key space (a split or a
 * merge) replaces the regions it overlaps; a heartbeat carrying an older view is rejected, which is what
 * keeps a slow or deposed region leader from rolling routing information back. A sorted array keeps lookups
 * O(log n) and scans cache-friendly; inserts move array slots, which stays cheap at the region counts one
 * pd holds.
 */
import { compareBytes } from "#codec";
import type { metapb } from "#proto";
import { InvariantError } from "#runtime";
import type { RegionInfo } from "./cluster-view.ts";

export class StaleRegionError extends Error {
  override readonly name = "StaleRegionError";
  constructor(
    readonly regionId: bigint,
    readonly reportedEpoch: metapb.RegionEpoch,
    /** The region whose newer epoch the report lost against: the same region or one it overlaps. */
    readonly knownRegionId: bigint,
    readonly knownEpoch: metapb.RegionEpoch,
  ) {
    super(
      `stale region ${regionId}: reported epoch ${formatEpoch(reportedEpoch)} is older than region ` +
        `${knownRegionId}'s known epoch ${formatEpoch(knownEpoch)}`,
    );
  }
}

export interface RegionUpdate {
  /** The entry this update replaced for the same region id, if pd knew it. */
  readonly previous: RegionInfo | undefined;
  /** Other regions whose ranges the update covered; they are gone from the tree. */
  readonly removed: readonly RegionInfo[];
}

export class RegionTree {
  /** Sorted by start key, pairwise non-overlapping. */
  private readonly ordered: RegionInfo[] = [];
  private readonly byId = new Map<bigint, RegionInfo>();

  get size(): number {
    return this.ordered.length;
  }

  all(): Iterable<RegionInfo> {
    return this.ordered;
  }

  getById(regionId: bigint): RegionInfo | undefined {
    return this.byId.get(regionId);
  }

  /** The region whose range contains `key`, if pd knows one. */
  getByKey(key: Uint8Array): RegionInfo | undefined {
    const index = this.lastStartingAtOrBefore(key);
    if (index < 0) return undefined;
    const region = this.ordered[index]!;
    return endsAfter(region.meta, key) ? region : undefined;
  }

  /**
   * Regions in key order from the one containing `startKey` (or the first after it) up to `endKey`
   * (exclusive; empty means the end of the key space), at most `limit` of them (0 means no limit).
   */
  scan(startKey: Uint8Array, endKey: Uint8Array, limit: number): RegionInfo[] {
    const result: RegionInfo[] = [];
    let index = this.lastStartingAtOrBefore(startKey);
    if (index < 0 || !endsAfter(this.ordered[index]!.meta, startKey)) index++;
    for (; index < this.ordered.length; index++) {
      const region = this.ordered[index]!;
      if (endKey.length > 0 && compareBytes(region.meta.startKey, endKey) >= 0) break;
      result.push(region);
      if (limit > 0 && result.length >= limit) break;
    }
    return result;
  }

  /** Throws StaleRegionError if `region` is older than what the tree holds; otherwise returns what it would remove. */
  check(region: metapb.Region): RegionInfo[] {
    const epoch = region.regionEpoch!;
    const known = this.byId.get(region.id);
    if (known !== undefined && isEpochStale(epoch, known.meta.regionEpoch!)) {
      throw new StaleRegionError(region.id, epoch, region.id, known.meta.regionEpoch!);
    }
    const overlaps = this.overlapping(region).filter((other) => other.meta.id !== region.id);
    for (const other of overlaps) {
      // A region overlapping ours with a newer range version has seen a split or merge that ours has not.
      if (other.meta.regionEpoch!.version > epoch.version) {
        throw new StaleRegionError(region.id, epoch, other.meta.id, other.meta.regionEpoch!);
      }
    }
    return overlaps;
  }

  /** Inserts or replaces a region, removing the regions it overlaps. Throws StaleRegionError for an old epoch. */
  update(info: RegionInfo): RegionUpdate {
    const removed = this.check(info.meta);
    const previous = this.byId.get(info.meta.id);
    if (previous !== undefined && sameRange(previous.meta, info.meta)) {
      this.ordered[this.indexOf(previous)] = info;
      this.byId.set(info.meta.id, info);
      return { previous, removed };
    }
    if (previous !== undefined) this.removeEntry(previous);
    for (const other of removed) this.removeEntry(other);
    this.ordered.splice(this.lastStartingAtOrBefore(info.meta.startKey) + 1, 0, info);
    this.byId.set(info.meta.id, info);
    return { previous, removed };
  }

  remove(regionId: bigint): RegionInfo | undefined {
    const region = this.byId.get(regionId);
    if (region !== undefined) this.removeEntry(region);
    return region;
  }

  private removeEntry(region: RegionInfo): void {
    this.ordered.splice(this.indexOf(region), 1);
    this.byId.delete(region.meta.id);
  }

  private indexOf(region: RegionInfo): number {
    const index = this.lastStartingAtOrBefore(region.meta.startKey);
    if (this.ordered[index] !== region) {
      throw new InvariantError(`region tree corrupt: region ${region.meta.id} is not at its start key`);
    }
    return index;
  }

  private overlapping(region: metapb.Region): RegionInfo[] {
    const result: RegionInfo[] = [];
    let index = this.lastStartingAtOrBefore(region.startKey);
    if (index < 0 || !endsAfter(this.ordered[index]!.meta, region.startKey)) index++;
    for (; index < this.ordered.length; index++) {
      const other = this.ordered[index]!;
      if (region.endKey.length > 0 && compareBytes(other.meta.startKey, region.endKey) >= 0) break;
      result.push(other);
    }
    return result;
  }

  /** Index of the last region whose start key is <= key, or -1. */
  private lastStartingAtOrBefore(key: Uint8Array): number {
    let low = 0;
    let high = this.ordered.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (compareBytes(this.ordered[middle]!.meta.startKey, key) <= 0) low = middle + 1;
      else high = middle;
    }
    return low - 1;
  }
}

/** True when `reported` is older than `known` in either dimension. */
export function isEpochStale(reported: metapb.RegionEpoch, known: metapb.RegionEpoch): boolean {
  return reported.version < known.version || reported.confVer < known.confVer;
}

function endsAfter(region: metapb.Region, key: Uint8Array): boolean {
  return region.endKey.length === 0 || compareBytes(key, region.endKey) < 0;
}

function sameRange(left: metapb.Region, right: metapb.Region): boolean {
  return compareBytes(left.startKey, right.startKey) === 0 && compareBytes(left.endKey, right.endKey) === 0;
}

function formatEpoch(epoch: metapb.RegionEpoch): string {
  return `{version: ${epoch.version}, confVer: ${epoch.confVer}}`;
}
