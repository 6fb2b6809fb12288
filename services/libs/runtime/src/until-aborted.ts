/**
 * Waits for `promise`, but no longer than until `signal` aborts: then it rejects with the signal's reason.
 * For work that takes no signal of its own (a lookup shared with other callers, a connection attempt): its
 * owner can close without waiting for it. The work itself goes on; its late outcome is dropped.
 */
export function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}
