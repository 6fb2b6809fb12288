/**
 * Delays between reconnect attempts: exponential from `baseMs`, capped at `capMs`, with equal jitter (half
 * the delay fixed, half random) so clients that lost the same pd leader do not all return at the same instant,
 * yet no retry comes sooner than half its step.
 */
import type { Random } from "#runtime";

export interface BackoffPolicy {
  readonly baseMs: number;
  readonly capMs: number;
}

// 2^30 × any sensible base is far past any cap; stopping the exponent here keeps the arithmetic finite.
const MAX_EXPONENT = 30;

export class ReconnectBackoff {
  private attempt = 0;

  constructor(
    private readonly policy: BackoffPolicy,
    private readonly random: Random,
  ) {
    if (!(policy.baseMs > 0 && policy.capMs >= policy.baseMs)) {
      throw new RangeError(`backoff needs 0 < baseMs <= capMs, got ${policy.baseMs} and ${policy.capMs}`);
    }
  }

  /** How many delays were handed out since the last reset: 0 means the last attempt succeeded. */
  get failures(): number {
    return this.attempt;
  }

  nextDelayMs(): number {
    const step = Math.min(this.policy.capMs, this.policy.baseMs * 2 ** Math.min(this.attempt, MAX_EXPONENT));
    this.attempt++;
    const half = step / 2;
    return half + this.random.nextFloat() * half;
  }

  reset(): void {
    this.attempt = 0;
  }
}
