/**
 * Shape checks for the store and region metadata that requests carry. They run before anything touches
 * the cluster state, so a malformed heartbeat is answered with a clear error instead of corrupting the
 * region tree.
 */
import { compareBytes } from "#codec";
import type { metapb } from "#proto";
import { InvalidMetadataError } from "./cluster-errors.ts";

/** Narrows `region` to one with an epoch, or throws InvalidMetadataError naming the first problem. */
export function validateRegion(
  region: metapb.Region | undefined,
): asserts region is metapb.Region & { regionEpoch: metapb.RegionEpoch } {
  if (region === undefined) throw new InvalidMetadataError("region", "the request carries no region");
  const subject = `region ${region.id}`;
  if (region.id === 0n) throw new InvalidMetadataError("region", "region id 0 is reserved for 'unset'");
  if (region.regionEpoch === undefined) throw new InvalidMetadataError(subject, "it has no region epoch");
  if (region.endKey.length > 0 && compareBytes(region.startKey, region.endKey) >= 0) {
    throw new InvalidMetadataError(
      subject,
      `start key ${hex(region.startKey)} is not below end key ${hex(region.endKey)}`,
    );
  }
  if (region.peers.length === 0) throw new InvalidMetadataError(subject, "it has no peers");
  const peerIds = new Set<bigint>();
  const storeIds = new Set<bigint>();
  for (const peer of region.peers) {
    if (peer.id === 0n || peer.storeId === 0n) {
      throw new InvalidMetadataError(subject, `peer ${peer.id} on store ${peer.storeId} has a zero id`);
    }
    if (peerIds.has(peer.id)) throw new InvalidMetadataError(subject, `peer id ${peer.id} appears twice`);
    if (storeIds.has(peer.storeId)) {
      throw new InvalidMetadataError(subject, `two peers live on store ${peer.storeId}`);
    }
    peerIds.add(peer.id);
    storeIds.add(peer.storeId);
  }
}

/** Checks that a reported leader is one of the region's peers (an unset leader is allowed). */
export function validateLeader(region: metapb.Region, leader: metapb.Peer | undefined): void {
  if (leader === undefined || leader.id === 0n) return;
  if (!region.peers.some((peer) => peer.id === leader.id && peer.storeId === leader.storeId)) {
    throw new InvalidMetadataError(
      `region ${region.id}`,
      `leader peer ${leader.id} on store ${leader.storeId} is not one of its peers`,
    );
  }
}

export function validateStore(store: metapb.Store | undefined): asserts store is metapb.Store {
  if (store === undefined) throw new InvalidMetadataError("store", "the request carries no store");
  if (store.id === 0n) throw new InvalidMetadataError("store", "store id 0 is reserved for 'unset'");
  if (store.address.length === 0) throw new InvalidMetadataError(`store ${store.id}`, "it has no address");
}

export function hex(bytes: Uint8Array): string {
  return bytes.length === 0 ? '""' : Buffer.from(bytes).toString("hex");
}
