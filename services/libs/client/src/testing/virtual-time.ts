/**
 * Test-only: awaits a promise whose progress depends on timers of a simulated Scheduler, stepping virtual
 * time only when the promise is stuck on a timer. Not exported from the library.
 */
import type { Scheduler } from "#sim";

const MAX_STEPS = 100_000;

function macrotask(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

export async function settle<T>(scheduler: Scheduler, promise: Promise<T>): Promise<T> {
  let settled = false;
  promise.then(
    () => {
      settled = true;
    },
    () => {
      settled = true;
    },
  );
  for (let step = 0; step < MAX_STEPS; step++) {
    await macrotask();
    if (settled) return promise;
    if (!scheduler.step()) {
      await macrotask();
      if (settled) return promise;
      throw new Error("promise is still pending but no virtual timer is scheduled");
    }
  }
  throw new Error(`promise still pending after ${MAX_STEPS} virtual timer events`);
}
