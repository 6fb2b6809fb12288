/**
 * Latencies in whole microseconds up to 100 ms, counted exactly (one counter per microsecond) so
 * percentiles need neither sorting nor sample storage; slower samples are kept in an overflow list.
 */
const EXACT_LIMIT_US = 100_000;

export class LatencyHistogram {
  private readonly counts = new Uint32Array(EXACT_LIMIT_US);
  private readonly overflowUs: number[] = [];
  private total = 0;

  get count(): number {
    return this.total;
  }

  record(latencyMs: number): void {
    const latencyUs = Math.max(0, Math.round(latencyMs * 1000));
    if (latencyUs < EXACT_LIMIT_US) this.counts[latencyUs]!++;
    else this.overflowUs.push(latencyUs);
    this.total++;
  }

  /** The latency in milliseconds below which `fraction` of the samples fall (0 when empty). */
  percentileMs(fraction: number): number {
    if (this.total === 0) return 0;
    const rank = Math.max(1, Math.ceil(fraction * this.total));
    let seen = 0;
    for (let latencyUs = 0; latencyUs < EXACT_LIMIT_US; latencyUs++) {
      seen += this.counts[latencyUs]!;
      if (seen >= rank) return latencyUs / 1000;
    }
    const sorted = [...this.overflowUs].sort((a, b) => a - b);
    return sorted[rank - seen - 1]! / 1000;
  }
}
