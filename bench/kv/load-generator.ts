/**
 * Closed-loop load (../shared/closed-loop.ts): `concurrency` workers each issue one operation at a time
 * on keys drawn uniformly from the key space, for a fixed duration.
 */
import type { Random } from "#runtime";
import { type LoadResult, runClosedLoop } from "../shared/closed-loop.ts";
import type { KvTarget } from "./kv-target.ts";

export type { LoadResult };

export type OperationName = "put" | "get";

export interface LoadOptions {
  readonly target: KvTarget;
  readonly operation: OperationName;
  readonly concurrency: number;
  readonly durationMs: number;
  readonly keys: readonly Uint8Array[];
  readonly value: Uint8Array;
  readonly random: Random;
}

export function runLoad(options: LoadOptions): Promise<LoadResult> {
  const { target, keys, value, random } = options;
  const call =
    options.operation === "put"
      ? (key: Uint8Array) => target.put(key, value)
      : (key: Uint8Array) => target.get(key);
  return runClosedLoop({
    concurrency: options.concurrency,
    durationMs: options.durationMs,
    nextInput: () => keys[random.intBelow(keys.length)]!,
    operation: call,
  });
}
