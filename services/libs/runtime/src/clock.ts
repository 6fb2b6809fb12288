/**
 * Time as an injectable dependency. Services read time and arm timers only through these interfaces so
 * that tests can substitute the virtual clock and seeded scheduler from `#sim`; only a service's
 * `main.ts` picks the real implementations below.
 */

export interface Clock {
  /** Wall-clock time in milliseconds since the Unix epoch; may jump (NTP, operator) — never use it for durations. */
  nowMs(): number;
  /** Milliseconds since an arbitrary origin; never goes backwards, so use it for timeouts, leases and latencies. */
  monotonicMs(): number;
}

export interface TimerHandle {
  /** Idempotent: cancelling an already fired or cancelled timer does nothing. */
  cancel(): void;
}

export interface Timers {
  setTimeout(callback: () => void, delayMs: number): TimerHandle;
  setInterval(callback: () => void, intervalMs: number): TimerHandle;
}

export const systemClock: Clock = {
  nowMs: () => Date.now(),
  monotonicMs: () => performance.now(),
};

/**
 * Node timers, deliberately left ref'd: a pending timer keeps the process alive, so every owner must cancel
 * its timers on close (the "no timer without an owner" rule). An unref'd timer would hide a leaked owner
 * instead of making the leak visible as a process that does not exit.
 */
export const systemTimers: Timers = {
  setTimeout(callback, delayMs) {
    const timer = globalThis.setTimeout(callback, delayMs);
    return { cancel: () => globalThis.clearTimeout(timer) };
  },
  setInterval(callback, intervalMs) {
    const timer = globalThis.setInterval(callback, intervalMs);
    return { cancel: () => globalThis.clearInterval(timer) };
  },
};

/**
 * Resolves after `ms` on the given timers; rejects with `signal.reason` if the signal aborts first (and
 * cancels the timer, so an aborted sleep leaves nothing pending).
 */
export function sleep(ms: number, timers: Timers = systemTimers, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = (): void => {
      handle.cancel();
      reject(signal?.reason);
    };
    const handle = timers.setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
