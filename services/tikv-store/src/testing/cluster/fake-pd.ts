/**
 * The little of pd the raftstore needs, in memory, for tests: ids, split ids, and the newest region meta
 * the stores reported (through heartbeats the harness forwards and split reports).
 */
import { compareBytes } from "#codec";
import type { metapb, pdpb } from "#proto";
import { epochOf } from "../../raftstore/region-meta.ts";
import type { RaftstorePdClient } from "../../raftstore/store-context.ts";

export class FakePd implements RaftstorePdClient {
  private lastId: bigint;
  private readonly known = new Map<bigint, metapb.Region>();
  readonly splitReports: Array<readonly metapb.Region[]> = [];

  constructor(firstId = 1000n) {
    this.lastId = firstId - 1n;
  }

  allocId(): bigint {
    this.lastId++;
    return this.lastId;
  }

  async askBatchSplit(region: metapb.Region, splitCount: number): Promise<pdpb.SplitID[]> {
    return Array.from({ length: splitCount }, () => ({
      newRegionId: this.allocId(),
      newPeerIds: region.peers.map(() => this.allocId()),
    }));
  }

  async reportBatchSplit(regions: readonly metapb.Region[]): Promise<void> {
    this.splitReports.push(regions);
    for (const region of regions) this.observe(region);
  }

  async getRegionById(regionId: bigint): Promise<{ readonly region: metapb.Region } | undefined> {
    const region = this.known.get(regionId);
    return region === undefined ? undefined : { region };
  }

  /** Every region known, in key order. */
  regions(): metapb.Region[] {
    return [...this.known.values()].sort((a, b) => compareBytes(a.startKey, b.startKey));
  }

  /** Keeps the newest meta of each region, as pd does with heartbeats. */
  observe(region: metapb.Region): void {
    const known = this.known.get(region.id);
    if (known !== undefined) {
      const epoch = epochOf(region);
      const knownEpoch = epochOf(known);
      if (epoch.version < knownEpoch.version || epoch.confVer < knownEpoch.confVer) return;
    }
    this.known.set(region.id, region);
  }
}
