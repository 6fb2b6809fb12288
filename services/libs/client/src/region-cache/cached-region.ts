/**
 * One cache entry: a region's metadata as pd or a store reported it, which peer requests go to (the work
 * peer, normally the leader), each peer's store failure epoch when the entry was made, and its TTL.
 */
import { metapb } from "#proto";
import type { KeyLocation } from "./key-location.ts";
import { RegionVerId } from "./region-ver-id.ts";

export class CachedRegion {
  readonly verId: RegionVerId;
  readonly location: KeyLocation;
  /** Index into meta.peers of the peer leader requests go to. */
  workPeerIndex: number;
  private expiresAtMs: number;

  constructor(
    readonly meta: metapb.Region,
    /** Failure epoch of each peer's store (same order as meta.peers) when the entry was made. */
    readonly storeEpochs: readonly number[],
    workPeerIndex: number,
    expiresAtMs: number,
  ) {
    this.verId = RegionVerId.of(meta);
    this.location = { region: this.verId, startKey: meta.startKey, endKey: meta.endKey };
    this.workPeerIndex = workPeerIndex;
    this.expiresAtMs = expiresAtMs;
  }

  get peers(): readonly metapb.Peer[] {
    return this.meta.peers;
  }

  isExpired(nowMs: number): boolean {
    return nowMs > this.expiresAtMs;
  }

  /** A use keeps the entry alive: it expires only after going unused for a full TTL. */
  extendUntil(expiresAtMs: number): void {
    this.expiresAtMs = Math.max(this.expiresAtMs, expiresAtMs);
  }

  peerIndexOnStore(storeId: bigint): number {
    return this.meta.peers.findIndex((peer) => peer.storeId === storeId);
  }

  /** The next peer after `fromIndex` that can lead (learners cannot), wrapping; `fromIndex` if none. */
  nextVoterIndex(fromIndex: number): number {
    const peers = this.meta.peers;
    for (let step = 1; step < peers.length; step++) {
      const index = (fromIndex + step) % peers.length;
      if (peers[index]!.role !== metapb.PeerRole.LEARNER) return index;
    }
    return fromIndex;
  }

  /** True when `other` is this region at an older epoch: stale news that must not replace this entry. */
  isNewerThan(other: metapb.Region): boolean {
    const otherVerId = RegionVerId.of(other);
    return (
      other.id === this.meta.id &&
      (this.verId.version > otherVerId.version || this.verId.confVer > otherVerId.confVer)
    );
  }
}
