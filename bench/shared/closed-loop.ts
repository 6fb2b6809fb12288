/**
 * Closed-loop load: `concurrency` workers each issue one operation at a time, for a fixed duration.
 * Latencies of successful operations are kept (bounded) for percentiles; failures are counted and handed
 * to `onError`. The input of each operation (a key, say) is made before its clock starts.
 */

export interface LoadResult {
  readonly operations: number;
  readonly errors: number;
  readonly opsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly p999Ms: number;
}

export interface ClosedLoopOptions<Input> {
  readonly concurrency: number;
  readonly durationMs: number;
  /** The next operation's input, made outside its measured time. */
  readonly nextInput: () => Input;
  readonly operation: (input: Input) => Promise<void>;
  /** Sees every failed operation (after it counted as an error). */
  readonly onError?: (error: unknown) => void;
}

/** Bound on kept latency samples; beyond it new samples are dropped (the run is long enough by then). */
const MAX_SAMPLES = 2_000_000;

export async function runClosedLoop<Input>(options: ClosedLoopOptions<Input>): Promise<LoadResult> {
  const { nextInput, operation, onError } = options;
  const latencies = new Float64Array(MAX_SAMPLES);
  let samples = 0;
  let errors = 0;
  const startMs = performance.now();
  const endMs = startMs + options.durationMs;
  await Promise.all(
    Array.from({ length: options.concurrency }, async () => {
      while (performance.now() < endMs) {
        const input = nextInput();
        const invokedMs = performance.now();
        try {
          await operation(input);
          if (samples < MAX_SAMPLES) latencies[samples++] = performance.now() - invokedMs;
        } catch (error) {
          errors++;
          onError?.(error);
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
