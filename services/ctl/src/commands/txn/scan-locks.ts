/**
 * `txn locks`: every lock in a key range, region by region in key order (tikv-ctl's scan-lock). The walk
 * follows a key cursor rather than a region list, so a region that splits or moves while it is walked is
 * looked up again from the cursor and no key is skipped or listed twice:
 *
 *   cursor = range start
 *   for the region holding cursor (from a ScanRegions page of pd, or pd again after a region error):
 *     ScanLock [cursor, min(region end, range end)) until a page comes back empty,
 *       each page starting after the last lock of the one before (its key + "\0");
 *     cursor = region end; stop at the range end or once `limit` locks are found.
 */
import { Metadata } from "@grpc/grpc-js";
import { compareBytes } from "#codec";
import { kvrpcpb, type metapb } from "#proto";
import type { RegionLeaderRpc, RegionTarget } from "./region-leader-rpc.ts";
import { holdingKey, type RegionDirectory, regionById, regionHolding } from "./regions.ts";
import { RegionNotFoundError, StoreRefusedError } from "./txn-errors.ts";

/** Regions taken from pd per ScanRegions call while walking. */
const REGIONS_PER_PD_PAGE = 64;
/** Locks asked of a store per ScanLock: few round trips, yet a bounded reply (stores cap scans at 10240). */
const LOCKS_PER_PAGE = 256;

export interface LockScan {
  /** Only the keys of this region (as pd reports it when the scan starts); every key when undefined. */
  readonly regionId: bigint | undefined;
  readonly maxTs: bigint;
  readonly limit: number;
}

/** A lock and the region whose leader reported it. */
export interface RegionLock {
  readonly regionId: bigint;
  readonly lock: kvrpcpb.LockInfo;
}

interface KeyRange {
  readonly startKey: Uint8Array;
  /** Empty: no end. */
  readonly endKey: Uint8Array;
}

/** Up to `scan.limit` locks with start_ts <= `scan.maxTs`, in key order. */
export async function scanLocks(
  pd: RegionDirectory,
  rpc: RegionLeaderRpc,
  scan: LockScan,
): Promise<RegionLock[]> {
  const only = scan.regionId === undefined ? undefined : await regionById(pd, scan.regionId);
  const range: KeyRange = only?.region ?? { startKey: new Uint8Array(), endKey: new Uint8Array() };
  const found: RegionLock[] = [];
  let pending: RegionTarget[] = only === undefined ? [] : [only];
  let cursor = range.startKey;
  while (found.length < scan.limit) {
    if (pending[0] === undefined || !contains(pending[0].region, cursor)) {
      pending = await pd.scanRegions(cursor, range.endKey, REGIONS_PER_PD_PAGE);
      if (pending[0] === undefined || !contains(pending[0].region, cursor)) {
        throw new RegionNotFoundError(holdingKey(cursor));
      }
    }
    const region = await scanRegion(
      pd,
      rpc,
      pending.shift()!,
      { startKey: cursor, endKey: range.endKey },
      scan,
      found,
    );
    if (isLast(region.endKey, range.endKey)) break;
    cursor = region.endKey;
  }
  return found;
}

/**
 * Pages through the locks of `target`'s region within `range`, appending them to `found`; returns the
 * region as its leader last answered for it (a split may have shrunk it since pd's page).
 */
async function scanRegion(
  pd: RegionDirectory,
  rpc: RegionLeaderRpc,
  target: RegionTarget,
  range: KeyRange,
  scan: LockScan,
  found: RegionLock[],
): Promise<metapb.Region> {
  let cursor = range.startKey;
  let current = target;
  for (;;) {
    const limit = Math.min(LOCKS_PER_PAGE, scan.limit - found.length);
    const { response, route } = await rpc.call<kvrpcpb.ScanLockResponse>(
      "KvScanLock",
      current,
      () => regionHolding(pd, cursor),
      ({ client, context, region }, options, done) =>
        client.kvScanLock(
          kvrpcpb.ScanLockRequest.fromPartial({
            context,
            maxTs: scan.maxTs,
            startKey: cursor,
            endKey: minEnd(region.endKey, range.endKey),
            limit,
          }),
          new Metadata(),
          options,
          done,
        ),
    );
    if (response.error !== undefined) {
      throw new StoreRefusedError(
        route.storeId,
        route.address,
        "KvScanLock",
        describeKeyError(response.error),
      );
    }
    current = route;
    for (const lock of response.locks) found.push({ regionId: route.region.id, lock });
    const last = response.locks.at(-1);
    if (last === undefined || found.length >= scan.limit) return route.region;
    cursor = keyAfter(last.key);
    // The region or the range ends before the next possible key: no need to ask for an empty page.
    if (!contains(route.region, cursor) || !contains(range, cursor)) return route.region;
  }
}

/** Whether `key` lies in [start, end) of a range or region. */
function contains(range: KeyRange, key: Uint8Array): boolean {
  return (
    compareBytes(range.startKey, key) <= 0 &&
    (range.endKey.length === 0 || compareBytes(key, range.endKey) < 0)
  );
}

/** The nearer of two exclusive ends, where empty means none. */
function minEnd(left: Uint8Array, right: Uint8Array): Uint8Array {
  if (left.length === 0) return right;
  if (right.length === 0) return left;
  return compareBytes(left, right) <= 0 ? left : right;
}

/** Whether a region ending at `regionEnd` reaches the end of the walk's range. */
function isLast(regionEnd: Uint8Array, rangeEnd: Uint8Array): boolean {
  return regionEnd.length === 0 || (rangeEnd.length > 0 && compareBytes(regionEnd, rangeEnd) >= 0);
}

/** The smallest key greater than `key`. */
function keyAfter(key: Uint8Array): Uint8Array {
  const next = new Uint8Array(key.length + 1);
  next.set(key);
  return next;
}

/** A malformed request comes back as `abort` text; any other key error as its fields. */
function describeKeyError(error: kvrpcpb.KeyError): string {
  return error.abort === "" ? JSON.stringify(kvrpcpb.KeyError.toJSON(error)) : error.abort;
}
