/** A Clock for tests that moves only when told to. */
import type { Clock } from "#runtime";

const WALL_CLOCK_AT_ZERO_MS = Date.UTC(2024, 0, 1);

export class ManualClock implements Clock {
  private elapsedMs = 0;

  nowMs(): number {
    return WALL_CLOCK_AT_ZERO_MS + this.elapsedMs;
  }

  monotonicMs(): number {
    return this.elapsedMs;
  }

  advance(ms: number): void {
    if (!(ms >= 0)) throw new RangeError(`ManualClock.advance: ms must be >= 0, got ${ms}`);
    this.elapsedMs += ms;
  }
}
