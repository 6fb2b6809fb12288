/**
 * Why a store refused a request for a region. Each class maps one-to-one onto an `errorpb.Error` field
 * (the server does the mapping); the client retries each kind differently, so the fields it needs (the
 * leader hint, the current regions, the backoff) travel with the error.
 */
import type { metapb } from "#proto";

function keyHex(key: Uint8Array): string {
  return Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString("hex");
}

export abstract class RegionError extends Error {
  abstract readonly kind: RegionErrorKind;
}

export type RegionErrorKind =
  | "not-leader"
  | "epoch-not-match"
  | "region-not-found"
  | "key-not-in-region"
  | "store-not-match"
  | "server-is-busy"
  | "stale-command"
  | "raft-entry-too-large"
  | "region-not-initialized"
  | "mismatch-peer-id"
  | "read-index-not-ready";

/** This peer is not the leader; `leader` is the one it knows of (undefined when none). */
export class NotLeaderError extends RegionError {
  override readonly name = "NotLeaderError";
  readonly kind = "not-leader";
  constructor(
    readonly regionId: bigint,
    readonly leader: metapb.Peer | undefined,
  ) {
    super(
      `region ${regionId}: not the leader${leader ? ` (leader is peer ${leader.id} on store ${leader.storeId})` : " (leader unknown)"}`,
    );
  }
}

/** The request's epoch is stale; `currentRegions` cover the region's old range now (siblings after a split). */
export class EpochNotMatchError extends RegionError {
  override readonly name = "EpochNotMatchError";
  readonly kind = "epoch-not-match";
  constructor(
    readonly regionId: bigint,
    readonly requestEpoch: metapb.RegionEpoch | undefined,
    readonly currentRegions: readonly metapb.Region[],
  ) {
    const current = currentRegions.find((region) => region.id === regionId)?.regionEpoch;
    super(
      `region ${regionId}: epoch ${describeEpoch(requestEpoch)} does not match the current ${describeEpoch(current)}`,
    );
  }
}

export class RegionNotFoundError extends RegionError {
  override readonly name = "RegionNotFoundError";
  readonly kind = "region-not-found";
  constructor(readonly regionId: bigint) {
    super(`region ${regionId} is not on this store`);
  }
}

export class KeyNotInRegionError extends RegionError {
  override readonly name = "KeyNotInRegionError";
  readonly kind = "key-not-in-region";
  constructor(
    readonly key: Uint8Array,
    readonly regionId: bigint,
    readonly startKey: Uint8Array,
    readonly endKey: Uint8Array,
  ) {
    super(
      `key ${keyHex(key)} is not in region ${regionId} [${keyHex(startKey)}, ${endKey.length === 0 ? "+inf" : keyHex(endKey)})`,
    );
  }
}

export class StoreNotMatchError extends RegionError {
  override readonly name = "StoreNotMatchError";
  readonly kind = "store-not-match";
  constructor(
    readonly requestStoreId: bigint,
    readonly actualStoreId: bigint,
  ) {
    super(`request for store ${requestStoreId} reached store ${actualStoreId}`);
  }
}

/** A bounded queue is full; retry after `backoffMs`. */
export class ServerIsBusyError extends RegionError {
  override readonly name = "ServerIsBusyError";
  readonly kind = "server-is-busy";
  constructor(
    readonly reason: string,
    readonly backoffMs: number,
  ) {
    super(`server is busy: ${reason}`);
  }
}

/**
 * The proposal was superseded before it applied (its entry was overwritten by a new leader, or the
 * proposer lost its leadership): whether it took effect is unknown to this store, so the client retries.
 */
export class StaleCommandError extends RegionError {
  override readonly name = "StaleCommandError";
  readonly kind = "stale-command";
  constructor(
    readonly regionId: bigint,
    readonly reason: string,
  ) {
    super(`region ${regionId}: stale command: ${reason}`);
  }
}

export class RaftEntryTooLargeError extends RegionError {
  override readonly name = "RaftEntryTooLargeError";
  readonly kind = "raft-entry-too-large";
  constructor(
    readonly regionId: bigint,
    readonly entrySizeBytes: number,
    readonly maxEntrySizeBytes: number,
  ) {
    super(`region ${regionId}: raft entry of ${entrySizeBytes} bytes exceeds ${maxEntrySizeBytes} bytes`);
  }
}

/** The peer exists but has not received its first snapshot, so it holds no data yet. */
export class RegionNotInitializedError extends RegionError {
  override readonly name = "RegionNotInitializedError";
  readonly kind = "region-not-initialized";
  constructor(readonly regionId: bigint) {
    super(`region ${regionId} is not initialized on this store`);
  }
}

export class MismatchPeerIdError extends RegionError {
  override readonly name = "MismatchPeerIdError";
  readonly kind = "mismatch-peer-id";
  constructor(
    readonly regionId: bigint,
    readonly requestPeerId: bigint,
    readonly storePeerId: bigint,
  ) {
    super(`region ${regionId}: request for peer ${requestPeerId}, but this store holds peer ${storePeerId}`);
  }
}

/** A read could not get a read index confirmed in time (no quorum, or leadership moving). */
export class ReadIndexNotReadyError extends RegionError {
  override readonly name = "ReadIndexNotReadyError";
  readonly kind = "read-index-not-ready";
  constructor(
    readonly regionId: bigint,
    readonly reason: string,
  ) {
    super(`region ${regionId}: read index not ready: ${reason}`);
  }
}

function describeEpoch(epoch: metapb.RegionEpoch | undefined): string {
  return epoch ? `{conf_ver ${epoch.confVer}, version ${epoch.version}}` : "(none)";
}
