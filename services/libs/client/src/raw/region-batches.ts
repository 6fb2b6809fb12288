/**
 * Runs a multi-key call region by region: keys grouped by the region holding them, each region's share
 * split into requests within the size limits, the requests sent in parallel (bounded by the call's
 * ConcurrencyLimit). A request whose region changed under it (split, leader lost) regroups just its own
 * keys and goes again with a fork of the call's retry state, so one region's trouble never resends others.
 */
import type { KeyLocation } from "../region-cache/key-location.ts";
import type { RegionCache } from "../region-cache/region-cache.ts";
import type { RegionRetry } from "../rpc/region-retry.ts";
import type { ConcurrencyLimit } from "./concurrency-limit.ts";
import { chunkBatch } from "./key-batches.ts";
import { keyHex } from "./key-range.ts";

/** What batching needs of a client: where regions are and how big one request may be (raw and txn share it). */
export interface BatchParts {
  readonly cache: RegionCache;
  readonly settings: { readonly maxKeysPerRequest: number; readonly maxBytesPerRequest: number };
}

export interface RegionBatchJob<Item> {
  /** Distinct keys: the job maps each region's keys back to its items by key. */
  readonly items: readonly Item[];
  readonly keyOf: (item: Item) => Uint8Array;
  readonly sizeOf: (item: Item) => number;
  /** Sends one request; false when the region must be relocated (the items are regrouped and resent). */
  readonly send: (location: KeyLocation, batch: readonly Item[], retry: RegionRetry) => Promise<boolean>;
}

export async function runRegionBatches<Item>(
  parts: BatchParts,
  job: RegionBatchJob<Item>,
  retry: RegionRetry,
  limit: ConcurrencyLimit,
): Promise<void> {
  if (job.items.length === 0) return;
  const itemsByKey = new Map(job.items.map((item) => [keyHex(job.keyOf(item)), item]));
  const groups = await parts.cache.groupKeysByRegion(job.items.map(job.keyOf), retry.backoffer);
  const limits = { maxCount: parts.settings.maxKeysPerRequest, maxBytes: parts.settings.maxBytesPerRequest };
  const requests: Promise<void>[] = [];
  for (const group of groups.values()) {
    const groupItems = group.keys.map((key) => itemsByKey.get(keyHex(key))!);
    for (const batch of chunkBatch(groupItems, limits, job.sizeOf)) {
      requests.push(sendBatch(parts, job, group.location, batch, retry.fork(), limit));
    }
  }
  // Every request settles before the call does, failed or not: none keeps running unowned after the caller
  // moved on (a pessimistic lock granted after the caller rolled back would never be released).
  const results = await Promise.allSettled(requests);
  const failure = results.find((result) => result.status === "rejected");
  if (failure !== undefined) throw failure.reason;
}

async function sendBatch<Item>(
  parts: BatchParts,
  job: RegionBatchJob<Item>,
  location: KeyLocation,
  batch: readonly Item[],
  retry: RegionRetry,
  limit: ConcurrencyLimit,
): Promise<void> {
  const answered = await limit.run(() => job.send(location, batch, retry));
  if (!answered) await runRegionBatches(parts, { ...job, items: batch }, retry, limit);
}
