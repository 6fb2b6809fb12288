/**
 * Where a transaction's time goes: latency samples per step (TSO, prewrite, TSO, commit), bounded, for
 * a p50 / p99 per step beside the whole transaction's.
 */
import type { TxnStep } from "./one-key-transaction.ts";

/** Bound on samples kept per step; later ones are dropped (the row is long enough by then). */
const MAX_SAMPLES_PER_STEP = 500_000;

export class StepLatencies {
  private readonly samples = new Map<TxnStep, number[]>();

  record(step: TxnStep, elapsedMs: number): void {
    let samples = this.samples.get(step);
    if (samples === undefined) {
      samples = [];
      this.samples.set(step, samples);
    }
    if (samples.length < MAX_SAMPLES_PER_STEP) samples.push(elapsedMs);
  }

  /** `step p50/p99 ms` for each step seen, in the order first seen. */
  describe(): string {
    return [...this.samples]
      .map(([step, samples]) => {
        const sorted = Float64Array.from(samples).sort();
        const at = (fraction: number) =>
          sorted[Math.min(sorted.length - 1, Math.floor(fraction * sorted.length))]!;
        return `${step} ${at(0.5).toFixed(2)}/${at(0.99).toFixed(2)}`;
      })
      .join(", ");
  }
}
