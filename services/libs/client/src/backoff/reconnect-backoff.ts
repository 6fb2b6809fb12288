/**
 * Delays between attempts to reopen a connection or stream that broke — to a pd leader, to a store's
 * BatchCommands service, or between stores' raft streams. Exponential from `baseMs`, capped at `capMs`,
 * with equal jitter: clients that lost the same server do not all return at the same instant, yet no
 * retry comes sooner than half its step.
 */
import type { Random } from "#runtime";
import { equalJitter } from "./jitter.ts";

export interface ReconnectBackoffPolicy {
  readonly baseMs: number;
  readonly capMs: number;
}

/**
 * Throws RangeError for a policy ReconnectBackoff would refuse; owners that create their backoffs lazily
 * call it up front so a bad configuration fails at startup, not on the first broken connection.
 */
export function checkReconnectBackoffPolicy(policy: ReconnectBackoffPolicy): void {
  if (!(policy.baseMs > 0 && policy.capMs >= policy.baseMs)) {
    throw new RangeError(
      `reconnect backoff needs 0 < baseMs <= capMs, got ${policy.baseMs} and ${policy.capMs}`,
    );
  }
}

export class ReconnectBackoff {
  private attempt = 0;

  constructor(
    private readonly policy: ReconnectBackoffPolicy,
    private readonly random: Random,
  ) {
    checkReconnectBackoffPolicy(policy);
  }

  /** How many delays were handed out since the last reset: 0 means the last attempt succeeded. */
  get failures(): number {
    return this.attempt;
  }

  nextDelayMs(): number {
    const { baseMs, capMs } = this.policy;
    const delayMs = equalJitter({ attempt: this.attempt, baseMs, capMs, random: this.random });
    this.attempt++;
    return delayMs;
  }

  reset(): void {
    this.attempt = 0;
  }
}
