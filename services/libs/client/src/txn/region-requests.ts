/**
 * Sending transactional commands: one key's command to its region (relocating and resending until the
 * region answers), or a batch of keys split by region and size, the regions in parallel under a bound.
 */
import type { kvrpcpb } from "#proto";
import { ConcurrencyLimit } from "../raw/concurrency-limit.ts";
import { runRegionBatches } from "../raw/region-batches.ts";
import type { KeyLocation } from "../region-cache/key-location.ts";
import type { CommandRequest, CommandResponse } from "../rpc/batch-command.ts";
import type { RegionCommandCase } from "../rpc/region-request-sender.ts";
import type { RegionRetry } from "../rpc/region-retry.ts";
import type { TxnParts } from "./txn-parts.ts";

export async function sendToKey<Case extends RegionCommandCase>(
  parts: TxnParts,
  key: Uint8Array,
  command: Case,
  build: (context: kvrpcpb.Context) => CommandRequest<Case>,
  retry: RegionRetry,
): Promise<CommandResponse<Case>> {
  // Each round answers or relocates after a backoff or a bounded free retry; the budget bounds the loop.
  for (;;) {
    const location = await parts.cache.locateKey(key, retry.backoffer);
    const result = await parts.sender.send(location, command, build, retry, "leader");
    if (result.kind === "answered") return result.response;
  }
}

export interface RegionBatch<Item> {
  readonly items: readonly Item[];
  readonly keyOf: (item: Item) => Uint8Array;
  readonly sizeOf: (item: Item) => number;
  /** Handles one region's batch; false when the region moved and the batch must be regrouped. */
  readonly send: (location: KeyLocation, batch: readonly Item[], retry: RegionRetry) => Promise<boolean>;
}

/** Runs `job` over its items grouped by region, at most `maxConcurrentRegionRequests` regions at once. */
export function sendByRegion<Item>(
  parts: TxnParts,
  job: RegionBatch<Item>,
  retry: RegionRetry,
): Promise<void> {
  return runRegionBatches(
    parts,
    job,
    retry,
    new ConcurrencyLimit(parts.settings.maxConcurrentRegionRequests),
  );
}
