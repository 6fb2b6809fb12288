import type { metapb } from "#proto";

/**
 * A region at one point of its life: (id, conf_ver, version). A split or merge bumps version and a
 * membership change bumps conf_ver, so two cache entries with the same id but different epochs are
 * different regions to the cache, and a request names exactly the one it was routed with.
 */
export class RegionVerId {
  constructor(
    readonly id: bigint,
    readonly confVer: bigint,
    readonly version: bigint,
  ) {}

  static of(region: metapb.Region): RegionVerId {
    return new RegionVerId(region.id, region.regionEpoch?.confVer ?? 0n, region.regionEpoch?.version ?? 0n);
  }

  /** A string usable as a Map key: equal for equal ids. */
  get key(): string {
    return `${this.id}:${this.confVer}:${this.version}`;
  }

  equals(other: RegionVerId): boolean {
    return this.id === other.id && this.confVer === other.confVer && this.version === other.version;
  }

  toString(): string {
    return `region ${this.id} (conf_ver ${this.confVer}, version ${this.version})`;
  }
}
