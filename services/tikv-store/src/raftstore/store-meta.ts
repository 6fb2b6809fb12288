/**
 * What the store knows about its regions, kept consistent by the store loop: every peer by region id,
 * the key ranges of initialized regions (non-overlapping), tombstones of destroyed peers (which block
 * their re-creation from stale messages), and ranges reserved by snapshots being installed.
 */
import type { metapb, raft_serverpb } from "#proto";
import type { Peer } from "./peer.ts";
import { rangesOverlap } from "./region-meta.ts";
import { RegionRangeIndex } from "./region-range-index.ts";

/** How many regions right of a region an EpochNotMatch reports (the new regions of a split). */
const MAX_SIBLINGS = 16;

/** A destroyed peer: messages for its region with an epoch no newer than `region`'s cannot recreate it. */
export interface Tombstone {
  /** The region as the destroyed peer last knew it. */
  readonly region: metapb.Region;
  readonly peerId: bigint;
}

export class StoreMeta {
  readonly peers = new Map<bigint, Peer>();
  readonly ranges = new RegionRangeIndex();
  readonly tombstones = new Map<bigint, Tombstone>();
  /** Ranges of snapshots accepted for installation, which no other region may take meanwhile. */
  readonly pendingSnapshots = new Map<bigint, metapb.Region>();
  /** Regions whose peer is being created (loading its raft state) or destroyed: messages wait. */
  readonly busyRegions = new Set<bigint>();
  /** First vote requests for regions that overlap a region here (a split not applied yet), for replay. */
  private pendingVotes: raft_serverpb.RaftMessage[] = [];

  constructor(private readonly maxPendingVotes: number) {}

  /** The region and the regions right after it (a split's new regions), for EpochNotMatch. */
  currentRegions(region: metapb.Region): metapb.Region[] {
    const registered = this.peers.get(region.id)?.initialized ?? false;
    return registered ? [region, ...this.ranges.rightSiblings(region, MAX_SIBLINGS)] : [region];
  }

  /** Initialized regions or pending snapshots other than `regionId` that overlap [startKey, endKey). */
  overlaps(regionId: bigint, startKey: Uint8Array, endKey: Uint8Array): metapb.Region[] {
    const found = this.ranges.overlapping(startKey, endKey).filter((region) => region.id !== regionId);
    for (const region of this.pendingSnapshots.values()) {
      if (region.id !== regionId && rangesOverlap(startKey, endKey, region.startKey, region.endKey)) {
        found.push(region);
      }
    }
    return found;
  }

  holdVote(message: raft_serverpb.RaftMessage): void {
    if (this.pendingVotes.length >= this.maxPendingVotes) this.pendingVotes.shift();
    this.pendingVotes.push(message);
  }

  /** Held votes for regions that now exist here; the rest stay held. */
  takeVotesFor(regionIds: ReadonlySet<bigint>): raft_serverpb.RaftMessage[] {
    const taken = this.pendingVotes.filter((message) => regionIds.has(message.regionId));
    if (taken.length > 0) {
      this.pendingVotes = this.pendingVotes.filter((message) => !regionIds.has(message.regionId));
    }
    return taken;
  }

  leaderCount(): number {
    let count = 0;
    for (const peer of this.peers.values()) if (peer.isLeader) count++;
    return count;
  }
}
