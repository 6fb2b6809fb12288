/**
 * The raftstore's typed region errors → `errorpb.Error`, one field per kind (kvproto's convention: the
 * client reads the field to decide how to retry and always has `message` for logs). Anything that is
 * not a RegionError is not a region error: handlers report it in the response's `error` string instead,
 * so an unexpected failure becomes a clear answer, never a crashed server or a silent retry loop.
 */
import { errorpb } from "#proto";
import type {
  EpochNotMatchError,
  KeyNotInRegionError,
  MismatchPeerIdError,
  NotLeaderError,
  RaftEntryTooLargeError,
  ReadIndexNotReadyError,
  RegionErrorKind,
  RegionNotFoundError,
  RegionNotInitializedError,
  ServerIsBusyError,
  StoreNotMatchError,
} from "../raftstore/region-errors.ts";
import { RegionError } from "../raftstore/region-errors.ts";

/** The errorpb form of `error`, or undefined when it is not a region error. */
export function toRegionErrorProto(error: unknown): errorpb.Error | undefined {
  if (!(error instanceof RegionError)) return undefined;
  return errorpb.Error.fromPartial({ message: error.message, ...typedField(error) });
}

/** Exhaustive over the raftstore's kinds, so a kind added there fails to compile here until it is mapped. */
function typedField(error: RegionError): Partial<errorpb.Error> {
  const kind: RegionErrorKind = error.kind;
  switch (kind) {
    case "not-leader": {
      const { regionId, leader } = error as NotLeaderError;
      return { notLeader: { regionId, leader } };
    }
    case "epoch-not-match":
      return { epochNotMatch: { currentRegions: [...(error as EpochNotMatchError).currentRegions] } };
    case "region-not-found":
      return { regionNotFound: { regionId: (error as RegionNotFoundError).regionId } };
    case "key-not-in-region": {
      const { key, regionId, startKey, endKey } = error as KeyNotInRegionError;
      return { keyNotInRegion: { key, regionId, startKey, endKey } };
    }
    case "store-not-match": {
      const { requestStoreId, actualStoreId } = error as StoreNotMatchError;
      return { storeNotMatch: { requestStoreId, actualStoreId } };
    }
    case "server-is-busy": {
      const { reason, backoffMs } = error as ServerIsBusyError;
      return { serverIsBusy: { reason, backoffMs: BigInt(Math.max(0, Math.ceil(backoffMs))) } };
    }
    case "stale-command":
      return { staleCommand: {} };
    case "raft-entry-too-large": {
      const { regionId, entrySizeBytes } = error as RaftEntryTooLargeError;
      return { raftEntryTooLarge: { regionId, entrySize: BigInt(entrySizeBytes) } };
    }
    case "region-not-initialized":
      return { regionNotInitialized: { regionId: (error as RegionNotInitializedError).regionId } };
    case "mismatch-peer-id": {
      const { requestPeerId, storePeerId } = error as MismatchPeerIdError;
      return { mismatchPeerId: { requestPeerId, storePeerId } };
    }
    case "read-index-not-ready": {
      const { reason, regionId } = error as ReadIndexNotReadyError;
      return { readIndexNotReady: { reason, regionId } };
    }
    default: {
      const unmapped: never = kind;
      throw new TypeError(`unmapped region error kind ${String(unmapped)}`);
    }
  }
}

/** The message for the response's `error` field when a request failed for a non-region reason. */
export function describeFailure(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
