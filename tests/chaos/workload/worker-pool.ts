/**
 * Closed-loop workers: each runs one operation at a time until the deadline. After an operation with an
 * unknown outcome the worker takes a fresh client id (as Jepsen does), because that operation stays open
 * forever in the history and one client must never have two operations open at once.
 */
import type { Operation } from "../history/operation.ts";

export interface WorkerContext {
  /** The client id to record the next operation under. */
  readonly client: number;
  readonly worker: number;
}

export interface WorkerPoolOptions {
  readonly workers: number;
  readonly untilMs: number;
  readonly nowMs: () => number;
  /** Bound on operations per worker, so a very fast cluster cannot grow the history without limit. */
  readonly maxOperationsPerWorker: number;
  readonly step: (context: WorkerContext) => Promise<Operation>;
}

export async function runWorkerPool(options: WorkerPoolOptions): Promise<void> {
  await Promise.all(
    Array.from({ length: options.workers }, async (_, worker) => {
      let client = worker;
      for (
        let count = 0;
        count < options.maxOperationsPerWorker && options.nowMs() < options.untilMs;
        count++
      ) {
        const operation = await options.step({ client, worker });
        if (operation.outcome === "unknown") client += options.workers;
      }
    }),
  );
}
