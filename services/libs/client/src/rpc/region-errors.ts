/**
 * Why a request for a region did not get an answer from that region: the store's typed region error, or
 * the client's own cache no longer knowing where the region is. Both are causes handed to the backoffer, so
 * a budget-exceeded error reads as a history ("NotLeader from store 2, then EpochNotMatch, then ...").
 */
import { type RegionErrorDetail, type RegionErrorKind, regionErrorFromProto } from "#kv-errors";
import { errorpb } from "#proto";
import type { RegionVerId } from "../region-cache/region-ver-id.ts";

/** The kind of a store's region error (the errorpb field that is set); "other" when only the message is. */
export type RegionRequestErrorKind = RegionErrorKind | "other";

/** A store refused a request for a region with a region error. */
export class RegionRequestError extends Error {
  readonly kind: RegionRequestErrorKind;
  /** The typed field of `regionError`; undefined for "other". */
  readonly detail: RegionErrorDetail | undefined;
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
    const detail = regionErrorFromProto(options.regionError);
    const kind = detail?.kind ?? "other";
    const wire = JSON.stringify(errorpb.Error.toJSON(options.regionError));
    super(
      `${kind} for region ${options.regionId} from store ${options.storeId} (${options.address}): ${wire}`,
    );
    this.name = "RegionRequestError";
    this.kind = kind;
    this.detail = detail;
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
