import { setTimeout as sleep } from "node:timers/promises";

/**
 * Waits `ms`, or less when `signal` aborts: then it resolves early instead of rejecting with a generic
 * AbortError, since the caller looks at the signal (and its reason) itself. Any other failure rejects.
 */
export async function sleepUnlessAborted(ms: number, signal: AbortSignal): Promise<void> {
  try {
    await sleep(ms, undefined, { signal });
  } catch (error) {
    if (!signal.aborted) throw error;
  }
}
