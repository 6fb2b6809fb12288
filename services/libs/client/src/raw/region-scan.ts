/**
 * A raw scan across regions: one region at a time in key order (descending for reverse scans), at most
 * `scanPageSize` pairs per request, until `limit` pairs or the end of the range. Each request is clipped
 * to the region as cached; a stale cache cannot silently cut a page short, because the store checks the
 * request's region epoch and answers EpochNotMatch, after which the same position is located again.
 */
import type { kvrpcpb } from "#proto";
import type { KeyLocation } from "../region-cache/key-location.ts";
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

export async function scanForward(
  parts: RawParts,
  range: ScanRange,
  limit: number,
  keyOnly: boolean,
  retry: RegionRetry,
): Promise<RawKvPair[]> {
  const pairs: RawKvPair[] = [];
  let cursor = range.startKey;
  // Each round adds a page, moves to the next region, or relocates after a bounded retry.
  while (pairs.length < limit) {
    const location = await parts.cache.locateKey(cursor, retry.backoffer);
    const pageLimit = Math.min(limit - pairs.length, parts.settings.scanPageSize);
    const from = cursor;
    const request = (context: kvrpcpb.Context): kvrpcpb.RawScanRequest => ({
      context,
      startKey: from,
      endKey: earlierEnd(range.endKey, location.endKey),
      limit: pageLimit,
      keyOnly,
      reverse: false,
    });
    const page = await scanPage(parts, location, request, retry, from);
    if (page === undefined) continue;
    pairs.push(...page);
    if (page.length === pageLimit) cursor = successorKey(page.at(-1)!.key);
    else if (endReaches(location.endKey, range.endKey)) break;
    else cursor = location.endKey;
  }
  return pairs;
}

export async function scanReverse(
  parts: RawParts,
  range: ScanRange,
  limit: number,
  keyOnly: boolean,
  retry: RegionRetry,
): Promise<RawKvPair[]> {
  const pairs: RawKvPair[] = [];
  // Exclusive upper bound of what is left to scan; empty = +infinity.
  let upper = range.endKey;
  while (pairs.length < limit) {
    const location = await parts.cache.locateEndKey(upper, retry.backoffer);
    const pageLimit = Math.min(limit - pairs.length, parts.settings.scanPageSize);
    const bound = upper;
    const request = (context: kvrpcpb.Context): kvrpcpb.RawScanRequest => ({
      context,
      // A reverse scan covers [end_key, start_key), largest key first.
      startKey: bound,
      endKey: laterStart(range.startKey, location.startKey),
      limit: pageLimit,
      keyOnly,
      reverse: true,
    });
    const page = await scanPage(parts, location, request, retry, bound);
    if (page === undefined) continue;
    pairs.push(...page);
    if (page.length === pageLimit) upper = page.at(-1)!.key;
    else if (startReaches(location.startKey, range.startKey)) break;
    else upper = location.startKey;
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
