/**
 * A raw scan across regions: one region at a time in key order (descending for reverse scans), at most
 * `scanPageSize` pairs per request, until `limit` pairs or the end of the range. Each request is clipped
 * to the region as cached; a stale cache cannot silently cut a page short, because the store checks the
 * request's region epoch and answers EpochNotMatch, after which the same position is located again.
 */
import type { kvrpcpb } from "#proto";
import type { KeyLocation } from "../region-cache/key-location.ts";
import type { RegionCache } from "../region-cache/region-cache.ts";
import type { RegionRetry } from "../rpc/region-retry.ts";
import { earlierEnd, endReaches, laterStart, startReaches, successorKey } from "./key-range.ts";
import { RawKvError } from "./raw-kv-errors.ts";
import type { RawParts } from "./raw-parts.ts";

export interface RawKvPair {
  readonly key: Uint8Array;
  readonly value: Uint8Array;
}

export interface ScanRange {
  /** Inclusive; empty = from the first key. */
  readonly startKey: Uint8Array;
  /** Exclusive; empty = to the last key. */
  readonly endKey: Uint8Array;
}

/**
 * Where the two scan orders differ; the page loop in `scanByRegion` is the same for both. A position is
 * the start_key of the next request: an inclusive lower bound forward, an exclusive upper bound in reverse.
 */
export interface ScanDirection {
  readonly origin: (range: ScanRange) => Uint8Array;
  /** The region the page from `position` reads. */
  readonly locate: (
    parts: { readonly cache: RegionCache },
    position: Uint8Array,
    retry: RegionRetry,
  ) => Promise<KeyLocation>;
  /** Where a page request stops: the range's far end, clipped to the region. */
  readonly pageEnd: (range: ScanRange, location: KeyLocation) => Uint8Array;
  /** The position after a full page whose last pair has `lastKey`. */
  readonly afterPage: (lastKey: Uint8Array) => Uint8Array;
  /** True when no part of the range lies beyond this region. */
  readonly coversRest: (location: KeyLocation, range: ScanRange) => boolean;
  /** The position where the next region's pages start. */
  readonly nextRegion: (location: KeyLocation) => Uint8Array;
}

export const FORWARD: ScanDirection = {
  origin: (range) => range.startKey,
  locate: (parts, position, retry) => parts.cache.locateKey(position, retry.backoffer),
  pageEnd: (range, location) => earlierEnd(range.endKey, location.endKey),
  afterPage: successorKey,
  coversRest: (location, range) => endReaches(location.endKey, range.endKey),
  nextRegion: (location) => location.endKey,
};

// A reverse request covers [end_key, start_key), largest key first; an empty position means +infinity.
export const REVERSE: ScanDirection = {
  origin: (range) => range.endKey,
  locate: (parts, position, retry) => parts.cache.locateEndKey(position, retry.backoffer),
  pageEnd: (range, location) => laterStart(range.startKey, location.startKey),
  afterPage: (lastKey) => lastKey,
  coversRest: (location, range) => startReaches(location.startKey, range.startKey),
  nextRegion: (location) => location.startKey,
};

export async function scanByRegion(
  parts: RawParts,
  range: ScanRange,
  limit: number,
  options: { readonly reverse: boolean; readonly keyOnly: boolean },
  retry: RegionRetry,
): Promise<RawKvPair[]> {
  const direction = options.reverse ? REVERSE : FORWARD;
  const pairs: RawKvPair[] = [];
  let position = direction.origin(range);
  // Each round adds a page, moves to the next region, or relocates after a bounded retry.
  while (pairs.length < limit) {
    const location = await direction.locate(parts, position, retry);
    const pageLimit = Math.min(limit - pairs.length, parts.settings.scanPageSize);
    const pageStart = position;
    const request = (context: kvrpcpb.Context): kvrpcpb.RawScanRequest => ({
      context,
      startKey: pageStart,
      endKey: direction.pageEnd(range, location),
      limit: pageLimit,
      keyOnly: options.keyOnly,
      reverse: options.reverse,
    });
    const page = await scanPage(parts, location, request, retry, pageStart);
    if (page === undefined) continue;
    pairs.push(...page);
    if (page.length === pageLimit) position = direction.afterPage(page.at(-1)!.key);
    else if (direction.coversRest(location, range)) break;
    else position = direction.nextRegion(location);
  }
  return pairs;
}

/** One region's page, or undefined when the region must be located again. */
async function scanPage(
  parts: RawParts,
  location: KeyLocation,
  request: (context: kvrpcpb.Context) => kvrpcpb.RawScanRequest,
  retry: RegionRetry,
  anchor: Uint8Array,
): Promise<RawKvPair[] | undefined> {
  const result = await parts.sender.send(location, "rawScan", request, retry);
  if (result.kind === "relocate") return undefined;
  return result.response.kvs.map((pair) => {
    if (pair.error !== undefined) {
      throw new RawKvError({ operation: "scan", key: anchor, detail: describeKeyError(pair.error) });
    }
    return { key: pair.key, value: pair.value };
  });
}

export function describeKeyError(error: kvrpcpb.KeyError): string {
  return error.abort || error.retryable || "key error without a message";
}
