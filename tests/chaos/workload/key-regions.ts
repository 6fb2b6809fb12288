/**
 * How a workload's keys spread over several regions: the keys the cluster is split at before the run,
 * and which of the resulting regions an operation touches, so faults hit some regions' leaders and not
 * others and the report can say how long each region was unavailable.
 */
import type { Operation } from "../history/operation.ts";
import { SET_PREFIX } from "./set-workload.ts";
import type { WorkloadName } from "./workload-name.ts";

/** The first key of each shard after the first; a workload's keys start with their shard's prefix. */
export function splitKeys(workload: WorkloadName, regions: number): string[] {
  return Array.from({ length: Math.max(0, regions - 1) }, (_, index) => shardPrefix(workload, index + 1));
}

/**
 * The prefix of shard `shard`'s keys: register keys are `chaos/register/<index>/…` and set elements
 * `<worker>-…` under `chaos/set/`, so key index or worker `n` falls in shard `n` (the last shard takes
 * the rest).
 */
export function shardPrefix(workload: WorkloadName, shard: number): string {
  return `chaos/${workload}/${shard}`;
}

/** The key an operation reads or writes; undefined for a read of the whole set. */
export function operationKey(operation: Operation): string | undefined {
  switch (operation.op) {
    case "read":
    case "write":
    case "cas":
      return operation.key;
    case "add":
      return `${SET_PREFIX}${operation.args.element}`;
    case "read-all":
      return undefined;
  }
}

/** The region (0-based, in key order) holding `key` once the key space is split at `keys`. */
export function regionIndexOf(key: string, keys: readonly string[]): number {
  let index = 0;
  while (index < keys.length && key >= keys[index]!) index++;
  return index;
}
