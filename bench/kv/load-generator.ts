/**
 * Closed-loop load: `concurrency` workers each issue one operation at a time on keys drawn uniformly from
 * the key space, for a fixed duration. Latencies are kept (bounded) for percentiles.
 */
import type { Random } from "#runtime";
import type { KvTarget } from "./kv-target.ts";

export type OperationName = "put" | "get";

export interface LoadResult {
  readonly operations: number;
  readonly errors: number;
  readonly opsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly p999Ms: number;
}

export interface LoadOptions {
  readonly target: KvTarget;
  readonly operation: OperationName;
  readonly concurrency: number;
  readonly durationMs: number;
  readonly keys: readonly Uint8Array[];
  readonly value: Uint8Array;
  readonly random: Random;
}

/** Bound on kept latency samples; beyond it new samples are dropped (the run is long enough by then). */
const MAX_SAMPLES = 2_000_000;

export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const { target, keys, value, random } = options;
  const latencies = new Float64Array(MAX_SAMPLES);
  let samples = 0;
  let errors = 0;
  const startMs = performance.now();
  const endMs = startMs + options.durationMs;
  const call =
    options.operation === "put"
      ? (key: Uint8Array) => target.put(key, value)
      : (key: Uint8Array) => target.get(key);
  await Promise.all(
    Array.from({ length: options.concurrency }, async () => {
      while (performance.now() < endMs) {
        const key = keys[random.intBelow(keys.length)]!;
        const invokedMs = performance.now();
        try {
          await call(key);
          if (samples < MAX_SAMPLES) latencies[samples++] = performance.now() - invokedMs;
        } catch {
          errors++;
        }
      }
    }),
  );
  const elapsedSeconds = (performance.now() - startMs) / 1000;
  const sorted = latencies.subarray(0, samples).sort();
  const at = (fraction: number): number =>
    samples === 0 ? Number.NaN : sorted[Math.min(samples - 1, Math.floor(fraction * samples))]!;
  return {
    operations: samples,
    errors,
    opsPerSecond: samples / elapsedSeconds,
    p50Ms: at(0.5),
    p99Ms: at(0.99),
    p999Ms: at(0.999),
  };
}
