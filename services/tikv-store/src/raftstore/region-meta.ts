/**
 * Small facts about a region's metadata (metapb.Region): key ranges, peers, conf state. Regions are
 * treated as immutable values: every change builds a new object, so a region handed to a caller (an
 * error, a heartbeat) never changes under it.
 */
import { compareBytes } from "#codec";
import { metapb } from "#proto";
import type { ConfState, NodeId } from "#raft";

/** Raft node ids are peer ids; the raft core works in numbers, so every conversion asserts they fit. */
export function peerIdToNode(peerId: bigint): NodeId {
  if (peerId <= 0n || peerId > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new RangeError(`peer id ${peerId} is not a raft node id in [1, 2^53)`);
  }
  return Number(peerId);
}

export function toSafeIndex(value: bigint, what: string): number {
  if (value < 0n || value > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new RangeError(`${what} ${value} does not fit a safe integer`);
  }
  return Number(value);
}

export function epochOf(region: metapb.Region): metapb.RegionEpoch {
  return region.regionEpoch ?? { confVer: 0n, version: 0n };
}

/** start <= key < end, with an empty end meaning unbounded. */
export function keyInRegion(key: Uint8Array, region: metapb.Region): boolean {
  return (
    compareBytes(key, region.startKey) >= 0 &&
    (region.endKey.length === 0 || compareBytes(key, region.endKey) < 0)
  );
}

/** [startKey, endKey) lies within the region; an empty endKey means unbounded. */
export function rangeInRegion(startKey: Uint8Array, endKey: Uint8Array, region: metapb.Region): boolean {
  if (compareBytes(startKey, region.startKey) < 0) return false;
  if (region.endKey.length === 0) return true;
  return endKey.length > 0 && compareBytes(endKey, region.endKey) <= 0;
}

/** Two user ranges [s, e) overlap; empty end keys are unbounded. */
export function rangesOverlap(
  startA: Uint8Array,
  endA: Uint8Array,
  startB: Uint8Array,
  endB: Uint8Array,
): boolean {
  const aEndsBeforeB = endA.length > 0 && compareBytes(endA, startB) <= 0;
  const bEndsBeforeA = endB.length > 0 && compareBytes(endB, startA) <= 0;
  return !aEndsBeforeB && !bEndsBeforeA;
}

export function findPeer(region: metapb.Region, peerId: bigint): metapb.Peer | undefined {
  return region.peers.find((peer) => peer.id === peerId);
}

export function findPeerOnStore(region: metapb.Region, storeId: bigint): metapb.Peer | undefined {
  return region.peers.find((peer) => peer.storeId === storeId);
}

export function isLearner(peer: metapb.Peer): boolean {
  return peer.role === metapb.PeerRole.LEARNER;
}

/** The raft configuration the region's peer list describes. */
export function confStateOfRegion(region: metapb.Region): ConfState {
  const voters: NodeId[] = [];
  const learners: NodeId[] = [];
  for (const peer of region.peers) (isLearner(peer) ? learners : voters).push(peerIdToNode(peer.id));
  return { voters, learners };
}

export function sameConfState(left: ConfState, right: ConfState): boolean {
  const sorted = (ids: readonly NodeId[]): string => [...ids].sort((a, b) => a - b).join(",");
  return sorted(left.voters) === sorted(right.voters) && sorted(left.learners) === sorted(right.learners);
}

/** A deep copy, so the stored region and the one handed out never share mutable arrays. */
export function cloneRegion(region: metapb.Region): metapb.Region {
  return metapb.Region.fromPartial(region);
}

export function describeRegion(region: metapb.Region): string {
  const epoch = epochOf(region);
  const hex = (key: Uint8Array): string => Buffer.from(key).toString("hex");
  return `region ${region.id} [${hex(region.startKey)}, ${region.endKey.length === 0 ? "+inf" : hex(region.endKey)}) conf_ver ${epoch.confVer} version ${epoch.version}`;
}
