/**
 * Region epochs: `conf_ver` counts membership changes, `version` key-range changes. A command carries the
 * epoch its proposer saw; the store refuses it (when proposed and again when it applies) if the region has
 * moved on in the dimension the command depends on, so a write never lands in a range its region no
 * longer owns and a conf change never applies to a membership it was not computed from.
 */
import type { metapb } from "#proto";
import { EpochNotMatchError } from "./region-errors.ts";
import { epochOf } from "./region-meta.ts";

/** Which parts of the epoch a command depends on (TiKV's table, per command kind). */
export interface EpochCheck {
  readonly version: boolean;
  readonly confVer: boolean;
}

/** Reads and writes of data depend on the key range only. */
export const DATA_COMMAND_EPOCH_CHECK: EpochCheck = { version: true, confVer: false };
/** A conf change depends on the membership only. */
export const CHANGE_PEER_EPOCH_CHECK: EpochCheck = { version: false, confVer: true };
/** A split depends on both: new peers are placed after the current peers, in the current range. */
export const SPLIT_EPOCH_CHECK: EpochCheck = { version: true, confVer: true };
/** Log GC is local bookkeeping and applies whatever the epoch. */
export const NO_EPOCH_CHECK: EpochCheck = { version: false, confVer: false };

/** `epoch` is older than `current` in either dimension. */
export function isEpochStale(epoch: metapb.RegionEpoch, current: metapb.RegionEpoch): boolean {
  return epoch.version < current.version || epoch.confVer < current.confVer;
}

/** The request's epoch differs from the region's in a dimension `check` covers. */
export function epochMismatch(
  requestEpoch: metapb.RegionEpoch | undefined,
  region: metapb.Region,
  check: EpochCheck,
): boolean {
  if (!check.version && !check.confVer) return false;
  if (requestEpoch === undefined) return true;
  const current = epochOf(region);
  return (
    (check.version && requestEpoch.version !== current.version) ||
    (check.confVer && requestEpoch.confVer !== current.confVer)
  );
}

/**
 * Throws EpochNotMatchError carrying `currentRegions()` when the request's epoch does not match; the
 * regions are computed only on failure (they may include siblings looked up in the store's range index).
 */
export function checkEpoch(
  requestEpoch: metapb.RegionEpoch | undefined,
  region: metapb.Region,
  check: EpochCheck,
  currentRegions: () => readonly metapb.Region[],
): void {
  if (epochMismatch(requestEpoch, region, check)) {
    throw new EpochNotMatchError(region.id, requestEpoch, currentRegions());
  }
}
