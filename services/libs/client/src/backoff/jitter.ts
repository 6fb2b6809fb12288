/**
 * Jitter strategies for exponential backoff (the four from the AWS architecture blog post on backoff and
 * jitter, as TiKV's client uses them). Each is a pure function of its input so property tests can pin the
 * bounds: with a seeded `random` the same input always yields the same sleep.
 */
import type { Random } from "#runtime";

export type JitterKind = "none" | "full" | "equal" | "decorrelated";

/** What the jitters that grow with the attempt read, so callers without a previous sleep can use them. */
export interface ExponentialJitterInput {
  /** Sleeps already taken for this kind: 0 for the first backoff. */
  readonly attempt: number;
  readonly baseMs: number;
  readonly capMs: number;
  readonly random: Random;
}

export interface JitterInput extends ExponentialJitterInput {
  /** The previous sleep of this kind (baseMs before the first); only decorrelated jitter reads it. */
  readonly lastSleepMs: number;
}

// 2^attempt overflows to Infinity long before attempt reaches this; the cap applies well before that anyway.
const MAX_EXPONENT = 52;

/** min(cap, base·2^attempt): the strict exponential every jitter except decorrelated starts from. */
export function exponentialMs(baseMs: number, capMs: number, attempt: number): number {
  return Math.min(capMs, baseMs * 2 ** Math.min(attempt, MAX_EXPONENT));
}

/** The strict exponential: predictable, for errors that clear by themselves quickly (region miss). */
export function noJitter(input: ExponentialJitterInput): number {
  return exponentialMs(input.baseMs, input.capMs, input.attempt);
}

/** Uniform in [0, exponential): spreads retries most, but may retry almost at once. */
export function fullJitter(input: ExponentialJitterInput): number {
  return input.random.intBelow(Math.max(1, exponentialMs(input.baseMs, input.capMs, input.attempt)));
}

/** Half the exponential plus uniform in [0, half): spread out, yet never shorter than half. */
export function equalJitter(input: ExponentialJitterInput): number {
  const half = Math.floor(exponentialMs(input.baseMs, input.capMs, input.attempt) / 2);
  return half + input.random.intBelow(Math.max(1, half));
}

/** min(cap, base + uniform in [0, 3·last − base)): grows from the previous sleep rather than the attempt. */
export function decorrelatedJitter(input: JitterInput): number {
  const spread = Math.max(1, input.lastSleepMs * 3 - input.baseMs);
  return Math.min(input.capMs, input.baseMs + input.random.intBelow(spread));
}

export function jitteredSleepMs(kind: JitterKind, input: JitterInput): number {
  switch (kind) {
    case "none":
      return noJitter(input);
    case "full":
      return fullJitter(input);
    case "equal":
      return equalJitter(input);
    case "decorrelated":
      return decorrelatedJitter(input);
  }
}
