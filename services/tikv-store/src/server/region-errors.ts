/**
 * The raftstore's typed region errors → `errorpb.Error` (the `#kv-errors` conversion of each error's
 * detail, with the error's message for logs). Anything that is not a RegionError is not a region error:
 * handlers report it in the response's `error` string instead, so an unexpected failure becomes a clear
 * answer, never a crashed server or a silent retry loop.
 */
import { regionErrorToProto } from "#kv-errors";
import type { errorpb } from "#proto";
import { RegionError } from "../raftstore/region-errors.ts";

/** The errorpb form of `error`, or undefined when it is not a region error. */
export function toRegionErrorProto(error: unknown): errorpb.Error | undefined {
  if (!(error instanceof RegionError)) return undefined;
  return regionErrorToProto(error.detail, error.message);
}

/** The message for the response's `error` field when a request failed for a non-region reason. */
export function describeFailure(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
