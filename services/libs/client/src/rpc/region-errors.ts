/**
 * Why a request for a region did not get an answer from that region: the store's typed region error, or
 * the client's own cache no longer knowing where the region is. Both are causes handed to the backoffer, so
 * a budget-exceeded error reads as a history ("NotLeader from store 2, then EpochNotMatch, then ...").
 */
import { errorpb } from "#proto";
import type { RegionVerId } from "../region-cache/region-ver-id.ts";

/** The kinds of errorpb.Error, by the field that is set; "other" when only the message is. */
export type RegionErrorKind =
  | "notLeader"
  | "regionNotFound"
  | "keyNotInRegion"
  | "epochNotMatch"
  | "serverIsBusy"
  | "staleCommand"
  | "storeNotMatch"
  | "raftEntryTooLarge"
  | "regionNotInitialized"
  | "mismatchPeerId"
  | "readIndexNotReady"
  | "other";

const KINDS: readonly Exclude<RegionErrorKind, "other">[] = [
  "notLeader",
  "regionNotFound",
  "keyNotInRegion",
  "epochNotMatch",
  "serverIsBusy",
  "staleCommand",
  "storeNotMatch",
  "raftEntryTooLarge",
  "regionNotInitialized",
  "mismatchPeerId",
  "readIndexNotReady",
];

export function regionErrorKind(error: errorpb.Error): RegionErrorKind {
  return KINDS.find((kind) => error[kind] !== undefined) ?? "other";
}

/** A store refused a request for a region with a region error. */
export class RegionRequestError extends Error {
  readonly kind: RegionErrorKind;
  readonly regionId: bigint;
  readonly storeId: bigint;
  readonly address: string;
  readonly regionError: errorpb.Error;

  constructor(options: {
    readonly regionId: bigint;
    readonly storeId: bigint;
    readonly address: string;
    readonly regionError: errorpb.Error;
  }) {
    const kind = regionErrorKind(options.regionError);
    const detail = JSON.stringify(errorpb.Error.toJSON(options.regionError));
    super(
      `${kind} for region ${options.regionId} from store ${options.storeId} (${options.address}): ${detail}`,
    );
    this.name = "RegionRequestError";
    this.kind = kind;
    this.regionId = options.regionId;
    this.storeId = options.storeId;
    this.address = options.address;
    this.regionError = options.regionError;
  }
}

/** The region cache had no usable route for a region (dropped, expired, or its store failed): reload it. */
export class RegionCacheMissError extends Error {
  readonly region: RegionVerId;

  constructor(region: RegionVerId) {
    super(`no usable route to ${region} in the region cache; reloading it`);
    this.name = "RegionCacheMissError";
    this.region = region;
  }
}
