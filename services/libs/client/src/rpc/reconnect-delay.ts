/**
 * How long a broken stream's slot rests before it is used again: gRPC's connection backoff (base × 1.6 per
 * consecutive failure, capped, ±20 % jitter so the clients that lost the same store do not all come back
 * in the same millisecond).
 */
import type { Random } from "#runtime";
import type { ReconnectPolicy } from "./rpc-client-options.ts";

const JITTER_FRACTION = 0.2;
// Far past any cap for any sensible base; stopping the exponent keeps the arithmetic finite.
const MAX_EXPONENT = 64;

/** `consecutiveFailures` counts the failures since the last stream that got an answer, starting at 1. */
export function reconnectDelayMs(
  consecutiveFailures: number,
  policy: ReconnectPolicy,
  random: Random,
): number {
  const exponent = Math.min(Math.max(consecutiveFailures - 1, 0), MAX_EXPONENT);
  const step = Math.min(policy.capMs, policy.baseMs * policy.multiplier ** exponent);
  const jitter = (random.nextFloat() * 2 - 1) * JITTER_FRACTION * step;
  return Math.min(policy.capMs, Math.max(policy.baseMs * (1 - JITTER_FRACTION), step + jitter));
}
