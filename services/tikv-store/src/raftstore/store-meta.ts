/**
 * What the store knows about its regions: every peer by region id, the key ranges of initialized regions
 * (non-overlapping), tombstones of destroyed peers (which block their re-creation from stale messages),
 * and ranges reserved by snapshots being installed. Anyone may read it; only the store loop changes it,
 * through methods that take the turn's capability (turn.ts).
 */
import type { metapb, raft_serverpb } from "#proto";
import type { Peer } from "./peer.ts";
import { rangesOverlap } from "./region-meta.ts";
import { RegionRangeIndex } from "./region-range-index.ts";
import type { Turn } from "./turn.ts";

/** How many regions right of a region an EpochNotMatch reports (the new regions of a split). */
const MAX_SIBLINGS = 16;

/** A destroyed peer: messages for its region with an epoch no newer than `region`'s cannot recreate it. */
export interface Tombstone {
  /** The region as the destroyed peer last knew it. */
  readonly region: metapb.Region;
  readonly peerId: bigint;
}

export class StoreMeta {
  private readonly peerById = new Map<bigint, Peer>();
  private readonly ranges = new RegionRangeIndex();
  private readonly tombstones = new Map<bigint, Tombstone>();
  /** Ranges of snapshots accepted for installation, which no other region may take meanwhile. */
  private readonly pendingSnapshots = new Map<bigint, metapb.Region>();
  /** Regions whose peer is being created (loading its raft state) or destroyed: messages wait. */
  private readonly busyRegions = new Set<bigint>();
  /** First vote requests for regions that overlap a region here (a split not applied yet), for replay. */
  private pendingVotes: raft_serverpb.RaftMessage[] = [];

  constructor(private readonly maxPendingVotes: number) {}

  // ---- reading ---------------------------------------------------------------------------------------

  peer(regionId: bigint): Peer | undefined {
    return this.peerById.get(regionId);
  }

  peers(): IterableIterator<Peer> {
    return this.peerById.values();
  }

  get peerCount(): number {
    return this.peerById.size;
  }

  tombstone(regionId: bigint): Tombstone | undefined {
    return this.tombstones.get(regionId);
  }

  isTombstoned(regionId: bigint): boolean {
    return this.tombstones.has(regionId);
  }

  isBusy(regionId: bigint): boolean {
    return this.busyRegions.has(regionId);
  }

  get pendingSnapshotCount(): number {
    return this.pendingSnapshots.size;
  }

  /** The region and the regions right after it (a split's new regions), for EpochNotMatch. */
  currentRegions(region: metapb.Region): metapb.Region[] {
    const registered = this.peerById.get(region.id)?.initialized ?? false;
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

  leaderCount(): number {
    let count = 0;
    for (const peer of this.peerById.values()) if (peer.isLeader) count++;
    return count;
  }

  // ---- changing (store loop only) ----------------------------------------------------------------------

  /** Registers a peer, and its range when it holds data. */
  addPeer(turn: Turn, peer: Peer): void {
    turn.check(`adding region ${peer.regionId}`);
    this.peerById.set(peer.regionId, peer);
    if (peer.initialized) this.ranges.replace([], [peer.region]);
  }

  /** Forgets a peer and its range. */
  removePeer(turn: Turn, peer: Peer): void {
    turn.check(`removing region ${peer.regionId}`);
    if (this.peerById.get(peer.regionId) === peer) this.peerById.delete(peer.regionId);
    this.ranges.removeById(peer.regionId);
  }

  /** The range index hands out region objects (EpochNotMatch), so it must hold the current ones. */
  replaceRanges(turn: Turn, previous: readonly metapb.Region[], next: readonly metapb.Region[]): void {
    turn.check("replacing region ranges");
    this.ranges.replace(previous, next);
  }

  setTombstone(turn: Turn, regionId: bigint, tombstone: Tombstone): void {
    turn.check(`tombstoning region ${regionId}`);
    this.tombstones.set(regionId, tombstone);
  }

  reserveSnapshot(turn: Turn, region: metapb.Region): void {
    turn.check(`reserving a snapshot range for region ${region.id}`);
    this.pendingSnapshots.set(region.id, region);
  }

  /** Frees the range `region` reserved (nothing when a newer reservation replaced it). */
  releaseSnapshot(turn: Turn, region: metapb.Region): void {
    turn.check(`releasing a snapshot range of region ${region.id}`);
    if (this.pendingSnapshots.get(region.id) === region) this.pendingSnapshots.delete(region.id);
  }

  markBusy(turn: Turn, regionId: bigint): void {
    turn.check(`marking region ${regionId} busy`);
    this.busyRegions.add(regionId);
  }

  clearBusy(turn: Turn, regionId: bigint): void {
    turn.check(`clearing region ${regionId} busy`);
    this.busyRegions.delete(regionId);
  }

  holdVote(turn: Turn, message: raft_serverpb.RaftMessage): void {
    turn.check("holding a vote");
    if (this.pendingVotes.length >= this.maxPendingVotes) this.pendingVotes.shift();
    this.pendingVotes.push(message);
  }

  /** Held votes for regions that now exist here; the rest stay held. */
  takeVotesFor(turn: Turn, regionIds: ReadonlySet<bigint>): raft_serverpb.RaftMessage[] {
    turn.check("taking held votes");
    const taken = this.pendingVotes.filter((message) => regionIds.has(message.regionId));
    if (taken.length > 0) {
      this.pendingVotes = this.pendingVotes.filter((message) => !regionIds.has(message.regionId));
    }
    return taken;
  }
}
