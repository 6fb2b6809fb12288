/**
 * Why a store refused a request for a region. Each class carries its `detail`, the kind and fields of the
 * `#kv-errors` union the client reads back from the wire (the server sends it as `errorpb.Error`); the
 * client retries each kind differently, so the fields it needs (the leader hint, the current regions, the
 * backoff) travel with the error, and the class adds what only the store's logs need.
 */
import type { RegionErrorDetail } from "#kv-errors";
import type { metapb } from "#proto";

function keyHex(key: Uint8Array): string {
  return Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString("hex");
}

export abstract class RegionError extends Error {
  protected constructor(
    readonly detail: RegionErrorDetail,
    message: string,
  ) {
    super(message);
  }
}

/** This peer is not the leader; `leader` is the one it knows of (undefined when none). */
export class NotLeaderError extends RegionError {
  override readonly name = "NotLeaderError";
  constructor(
    readonly regionId: bigint,
    readonly leader: metapb.Peer | undefined,
  ) {
    super(
      { kind: "notLeader", regionId, leader },
      `region ${regionId}: not the leader${leader ? ` (leader is peer ${leader.id} on store ${leader.storeId})` : " (leader unknown)"}`,
    );
  }
}

/** The request's epoch is stale; `currentRegions` cover the region's old range now (siblings after a split). */
export class EpochNotMatchError extends RegionError {
  override readonly name = "EpochNotMatchError";
  constructor(
    readonly regionId: bigint,
    readonly requestEpoch: metapb.RegionEpoch | undefined,
    readonly currentRegions: readonly metapb.Region[],
  ) {
    const current = currentRegions.find((region) => region.id === regionId)?.regionEpoch;
    super(
      { kind: "epochNotMatch", currentRegions: [...currentRegions] },
      `region ${regionId}: epoch ${describeEpoch(requestEpoch)} does not match the current ${describeEpoch(current)}`,
    );
  }
}

export class RegionNotFoundError extends RegionError {
  override readonly name = "RegionNotFoundError";
  constructor(readonly regionId: bigint) {
    super({ kind: "regionNotFound", regionId }, `region ${regionId} is not on this store`);
  }
}

export class KeyNotInRegionError extends RegionError {
  override readonly name = "KeyNotInRegionError";
  constructor(
    readonly key: Uint8Array,
    readonly regionId: bigint,
    readonly startKey: Uint8Array,
    readonly endKey: Uint8Array,
  ) {
    super(
      { kind: "keyNotInRegion", key, regionId, startKey, endKey },
      `key ${keyHex(key)} is not in region ${regionId} [${keyHex(startKey)}, ${endKey.length === 0 ? "+inf" : keyHex(endKey)})`,
    );
  }
}

export class StoreNotMatchError extends RegionError {
  override readonly name = "StoreNotMatchError";
  constructor(
    readonly requestStoreId: bigint,
    readonly actualStoreId: bigint,
  ) {
    super(
      { kind: "storeNotMatch", requestStoreId, actualStoreId },
      `request for store ${requestStoreId} reached store ${actualStoreId}`,
    );
  }
}

/** A bounded queue is full; retry after `backoffMs`. */
export class ServerIsBusyError extends RegionError {
  override readonly name = "ServerIsBusyError";
  constructor(
    readonly reason: string,
    readonly backoffMs: number,
  ) {
    // The wire carries whole milliseconds; rounding up never tells a client to come back too early.
    super(
      { kind: "serverIsBusy", reason, backoffMs: BigInt(Math.max(0, Math.ceil(backoffMs))) },
      `server is busy: ${reason}`,
    );
  }
}

/**
 * The proposal was superseded before it applied (its entry was overwritten by a new leader, or the
 * proposer lost its leadership): whether it took effect is unknown to this store, so the client retries.
 */
export class StaleCommandError extends RegionError {
  override readonly name = "StaleCommandError";
  constructor(
    readonly regionId: bigint,
    readonly reason: string,
  ) {
    super({ kind: "staleCommand" }, `region ${regionId}: stale command: ${reason}`);
  }
}

export class RaftEntryTooLargeError extends RegionError {
  override readonly name = "RaftEntryTooLargeError";
  constructor(
    readonly regionId: bigint,
    readonly entrySizeBytes: number,
    readonly maxEntrySizeBytes: number,
  ) {
    super(
      { kind: "raftEntryTooLarge", regionId, entrySize: BigInt(entrySizeBytes) },
      `region ${regionId}: raft entry of ${entrySizeBytes} bytes exceeds ${maxEntrySizeBytes} bytes`,
    );
  }
}

/** The peer exists but has not received its first snapshot, so it holds no data yet. */
export class RegionNotInitializedError extends RegionError {
  override readonly name = "RegionNotInitializedError";
  constructor(readonly regionId: bigint) {
    super({ kind: "regionNotInitialized", regionId }, `region ${regionId} is not initialized on this store`);
  }
}

export class MismatchPeerIdError extends RegionError {
  override readonly name = "MismatchPeerIdError";
  constructor(
    readonly regionId: bigint,
    readonly requestPeerId: bigint,
    readonly storePeerId: bigint,
  ) {
    super(
      { kind: "mismatchPeerId", requestPeerId, storePeerId },
      `region ${regionId}: request for peer ${requestPeerId}, but this store holds peer ${storePeerId}`,
    );
  }
}

/** A read could not get a read index confirmed in time (no quorum, or leadership moving). */
export class ReadIndexNotReadyError extends RegionError {
  override readonly name = "ReadIndexNotReadyError";
  constructor(
    readonly regionId: bigint,
    readonly reason: string,
  ) {
    super(
      { kind: "readIndexNotReady", regionId, reason },
      `region ${regionId}: read index not ready: ${reason}`,
    );
  }
}

function describeEpoch(epoch: metapb.RegionEpoch | undefined): string {
  return epoch ? `{conf_ver ${epoch.confVer}, version ${epoch.version}}` : "(none)";
}
