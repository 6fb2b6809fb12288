/**
 * A raw delete of [startKey, endKey) split at region boundaries: one RawDeleteRange per region, clipped to
 * it, sent in parallel (bounded); a region that changed under its request has just its own sub-range
 * located and deleted again.
 */
import type { RegionRetry } from "../rpc/region-retry.ts";
import type { ConcurrencyLimit } from "./concurrency-limit.ts";
import { earlierEnd, laterStart } from "./key-range.ts";
import { RawKvError } from "./raw-kv-errors.ts";
import type { RawParts } from "./raw-parts.ts";
import type { ScanRange } from "./region-scan.ts";

export async function deleteRangeByRegion(
  parts: RawParts,
  range: ScanRange,
  retry: RegionRetry,
  limit: ConcurrencyLimit,
): Promise<void> {
  const locations = await parts.cache.locateRange(range.startKey, range.endKey, retry.backoffer);
  await Promise.all(
    locations.map(async (location) => {
      const clipped = {
        startKey: laterStart(range.startKey, location.startKey),
        endKey: earlierEnd(range.endKey, location.endKey),
      };
      const subRetry = retry.fork();
      const result = await limit.run(() =>
        parts.sender.send(location, "rawDeleteRange", (context) => ({ context, ...clipped }), subRetry),
      );
      if (result.kind === "relocate") {
        await deleteRangeByRegion(parts, clipped, subRetry, limit);
      } else if (result.response.error !== "") {
        throw new RawKvError({
          operation: "deleteRange",
          key: clipped.startKey,
          detail: result.response.error,
        });
      }
    }),
  );
}
