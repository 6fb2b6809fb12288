/**
 * One place that turns what went wrong into the pdpb error a client sees. Every failure a request can
 * cause has its own error type, so clients branch on the type, never on message text; anything
 * unexpected becomes UNKNOWN with its message rather than crashing the server.
 */
import { pdpb } from "#proto";
import {
  AlreadyBootstrappedError,
  InvalidMetadataError,
  NotBootstrappedError,
  RegionNotFoundError,
  StaleLeaderTermError,
  StoreNotFoundError,
  StoreTombstoneError,
} from "../cluster/cluster-errors.ts";
import { StaleRegionError } from "../cluster/region-tree.ts";
import { IdAllocatorNotServingError } from "../id/id-allocator.ts";
import { type MemberInfo, NotLeaderError } from "../storage/index.ts";
import { TsoInvalidCountError, TsoNotServingError } from "../tso/tso-allocator.ts";
import { NotLeaderServingError } from "./leader-guard.ts";

export class ClusterMismatchError extends Error {
  override readonly name = "ClusterMismatchError";
  constructor(
    readonly requestClusterId: bigint,
    readonly serverClusterId: bigint,
  ) {
    super(
      `cluster id mismatch: the request is for cluster ${requestClusterId} but this pd serves cluster ${serverClusterId}`,
    );
  }
}

/** A request argument outside what the RPC accepts (beyond region and store metadata). */
export class InvalidArgumentError extends Error {
  override readonly name = "InvalidArgumentError";
}

export function toMember(member: MemberInfo): pdpb.Member {
  return { name: member.name, memberId: member.memberId, peerUrls: [], clientUrls: [...member.clientUrls] };
}

/** `currentLeader` fills in the hint for errors raised below the leader guard (a fenced storage write). */
export function toPdError(error: unknown, currentLeader: () => MemberInfo | undefined): pdpb.Error {
  const message = error instanceof Error ? error.message : String(error);
  const type = errorType(error);
  let leader: MemberInfo | undefined;
  if (type === pdpb.ErrorType.NOT_LEADER) {
    leader =
      error instanceof NotLeaderServingError || error instanceof NotLeaderError ? error.leader : undefined;
    leader ??= currentLeader();
  }
  return { type, message, leader: leader === undefined ? undefined : toMember(leader) };
}

function errorType(error: unknown): pdpb.ErrorType {
  if (error instanceof ClusterMismatchError) return pdpb.ErrorType.CLUSTER_MISMATCH;
  if (
    error instanceof NotLeaderServingError ||
    error instanceof NotLeaderError ||
    error instanceof TsoNotServingError ||
    error instanceof IdAllocatorNotServingError
  ) {
    return pdpb.ErrorType.NOT_LEADER;
  }
  if (error instanceof NotBootstrappedError) return pdpb.ErrorType.NOT_BOOTSTRAPPED;
  if (error instanceof AlreadyBootstrappedError) return pdpb.ErrorType.ALREADY_BOOTSTRAPPED;
  if (error instanceof StoreNotFoundError) return pdpb.ErrorType.STORE_NOT_FOUND;
  if (error instanceof StoreTombstoneError) return pdpb.ErrorType.STORE_TOMBSTONE;
  if (error instanceof RegionNotFoundError) return pdpb.ErrorType.REGION_NOT_FOUND;
  if (error instanceof StaleRegionError || error instanceof StaleLeaderTermError)
    return pdpb.ErrorType.STALE_REGION;
  if (
    error instanceof InvalidMetadataError ||
    error instanceof InvalidArgumentError ||
    error instanceof TsoInvalidCountError
  ) {
    return pdpb.ErrorType.INVALID_ARGUMENT;
  }
  return pdpb.ErrorType.UNKNOWN;
}
