/**
 * Questions scheduling asks about a reported region: which peer lives on a store, which peers vote, which
 * lag behind. Kept in one place so every checker reads roles, pending and down peers the same way.
 */
import { metapb } from "#proto";
import type { RegionInfo } from "../cluster/cluster-view.ts";

export interface EpochView {
  readonly confVer: bigint;
  readonly version: bigint;
}

export function epochOf(region: RegionInfo): EpochView {
  return {
    confVer: region.meta.regionEpoch?.confVer ?? 0n,
    version: region.meta.regionEpoch?.version ?? 0n,
  };
}

export function peerOnStore(region: RegionInfo, storeId: bigint): metapb.Peer | undefined {
  return region.meta.peers.find((peer) => peer.storeId === storeId);
}

export function isVoter(peer: metapb.Peer): boolean {
  return peer.role === metapb.PeerRole.VOTER;
}

export function isLearner(peer: metapb.Peer): boolean {
  return peer.role === metapb.PeerRole.LEARNER;
}

export function votersOf(region: RegionInfo): metapb.Peer[] {
  return region.meta.peers.filter(isVoter);
}

export function learnersOf(region: RegionInfo): metapb.Peer[] {
  return region.meta.peers.filter(isLearner);
}

/** Pending peers lag far behind the leader's log; making one leader or counting on it would stall the region. */
export function isPendingPeer(region: RegionInfo, peerId: bigint): boolean {
  return region.pendingPeers.some((peer) => peer.id === peerId);
}

export function isDownPeer(region: RegionInfo, peerId: bigint): boolean {
  return region.downPeers.some((stats) => stats.peer?.id === peerId);
}
