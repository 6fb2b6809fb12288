/**
 * The checks a client request passes before the store serves it, in the order the store makes them, so
 * the first refusal is the one a client sees: the request reached the wrong store, the region is not here
 * (or is going away), the peer holds no data yet, the request names another peer, this peer does not lead,
 * the leader's term moved on, the region's epoch moved on, a key lies outside the region.
 *
 * Pure: it reads a view of the peer and throws the store's typed region errors. The store runs it on its
 * own peers; fakes that must answer like a store (the client's fake cluster) run it on theirs, so the two
 * cannot drift apart.
 */
import type { metapb } from "#proto";
import { checkEpoch, type EpochCheck } from "./region-epoch.ts";
import {
  KeyNotInRegionError,
  MismatchPeerIdError,
  NotLeaderError,
  RegionNotFoundError,
  RegionNotInitializedError,
  StaleCommandError,
  StoreNotMatchError,
} from "./region-errors.ts";
import { keyInRegion, rangeInRegion } from "./region-meta.ts";

/** Where a request is going: the routing fields of kvrpcpb.Context. */
export interface RequestContext {
  readonly regionId: bigint;
  readonly regionEpoch: metapb.RegionEpoch | undefined;
  readonly peer: metapb.Peer | undefined;
  /** Serve a read on a follower after a ReadIndex round trip to the leader. */
  readonly replicaRead?: boolean;
  /** The leader term the client saw; 0 or absent means unchecked. */
  readonly term?: bigint;
}

/** What the checks read of this store's peer of the request's region (the raftstore's Peer is one). */
export interface RequestPeerView {
  /** This peer: its id and store. */
  readonly meta: metapb.Peer;
  readonly region: metapb.Region;
  /** False until the peer received its first snapshot: it holds no data yet. */
  readonly initialized: boolean;
  /** Being destroyed: it answers as if it were not here. */
  readonly isGoingAway: boolean;
  readonly isLeader: boolean;
  readonly term: number;
  /** The leader this peer knows of, the hint a NotLeader answer carries. */
  leaderPeer(): metapb.Peer | undefined;
}

/** The regions covering a region's range now (siblings after a split), for EpochNotMatch answers. */
export interface CurrentRegions {
  currentRegions(region: metapb.Region): readonly metapb.Region[];
}

/** Which keys a request touches, checked against the region before anything else happens. */
export type KeyCheck =
  | { readonly kind: "keys"; readonly keys: readonly Uint8Array[] }
  /** The whole range [startKey, endKey) must lie in the region (empty endKey = unbounded). */
  | { readonly kind: "range"; readonly startKey: Uint8Array; readonly endKey: Uint8Array }
  /**
   * A scan anchored at `key`: forward scans start there (it must be in the region); reverse scans end
   * before it (exclusive upper bound; empty = unbounded), so the region must hold keys just below it.
   */
  | { readonly kind: "scan"; readonly key: Uint8Array; readonly reverse: boolean };

/** What one kind of request depends on. */
export interface RequestChecks {
  readonly epoch: EpochCheck;
  /** Undefined for requests that name no keys of their own (a split's keys are checked by its apply). */
  readonly keys: KeyCheck | undefined;
  /** A follower may serve it (a replica read); otherwise only the leader. */
  readonly allowFollower: boolean;
}

/** Returns `peer` once `context` passes every check; throws the first refusal as a typed region error. */
export function checkRequest<Peer extends RequestPeerView>(
  storeId: bigint,
  peer: Peer | undefined,
  context: RequestContext,
  checks: RequestChecks,
  regions: CurrentRegions,
): Peer {
  const requestStore = context.peer?.storeId ?? 0n;
  if (requestStore !== 0n && requestStore !== storeId) throw new StoreNotMatchError(requestStore, storeId);
  if (peer === undefined || peer.isGoingAway) throw new RegionNotFoundError(context.regionId);
  if (!peer.initialized) throw new RegionNotInitializedError(context.regionId);
  const requestPeer = context.peer?.id ?? 0n;
  if (requestPeer !== 0n && requestPeer !== peer.meta.id) {
    throw new MismatchPeerIdError(context.regionId, requestPeer, peer.meta.id);
  }
  if (!checks.allowFollower && !peer.isLeader) throw new NotLeaderError(context.regionId, peer.leaderPeer());
  const term = context.term ?? 0n;
  if (term !== 0n && term !== BigInt(peer.term)) {
    throw new StaleCommandError(
      context.regionId,
      `request for term ${term}, the peer is in term ${peer.term}`,
    );
  }
  checkEpoch(context.regionEpoch, peer.region, checks.epoch, () => regions.currentRegions(peer.region));
  if (checks.keys !== undefined) checkKeys(checks.keys, peer.region);
  return peer;
}

/** Throws KeyNotInRegionError unless every key the request touches belongs to `region`. */
export function checkKeys(check: KeyCheck, region: metapb.Region): void {
  const notInRegion = (key: Uint8Array): KeyNotInRegionError =>
    new KeyNotInRegionError(key, region.id, region.startKey, region.endKey);
  switch (check.kind) {
    case "keys":
      for (const key of check.keys) if (!keyInRegion(key, region)) throw notInRegion(key);
      return;
    case "range":
      if (!rangeInRegion(check.startKey, check.endKey, region)) throw notInRegion(check.startKey);
      return;
    case "scan":
      if (!scanAnchorInRegion(check.key, check.reverse, region)) throw notInRegion(check.key);
      return;
    default:
      check satisfies never;
  }
}

function scanAnchorInRegion(key: Uint8Array, reverse: boolean, region: metapb.Region): boolean {
  if (!reverse) return keyInRegion(key, region);
  // An exclusive upper bound: the region must start below it and end at or above it.
  if (key.length === 0) return region.endKey.length === 0;
  if (Buffer.compare(key, region.startKey) <= 0) return false;
  return region.endKey.length === 0 || Buffer.compare(key, region.endKey) <= 0;
}
