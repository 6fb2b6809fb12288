/**
 * Jepsen's set workload on the raw KV API: workers insert unique elements (one key each) while faults
 * run; after the faults are healed, one final read lists every element. Every acknowledged insert must be
 * in it, and nothing that was never inserted.
 */
import type { HistoryRecorder } from "../history/recorder.ts";
import type { CountingRawKvClient } from "./attempt-counting-client.ts";
import { readOnly } from "./outcomes.ts";
import { runWorkerPool } from "./worker-pool.ts";

export interface SetWorkloadOptions {
  readonly clients: readonly CountingRawKvClient[];
  readonly recorder: HistoryRecorder;
  readonly nowMs: () => number;
  readonly untilMs: number;
  readonly maxOperationsPerWorker: number;
}

export const SET_PREFIX = "chaos/set/";
const encoder = new TextEncoder();
const decoder = new TextDecoder();
const SCAN_PAGE = 1_024;
/** Bound on scan pages of the final read (the workload inserts far fewer elements than this covers). */
const MAX_SCAN_PAGES = 1_000;
const FINAL_READ_ATTEMPTS = 10;
const FINAL_READ_RETRY_MS = 1_000;

export async function runSetInserts(options: SetWorkloadOptions): Promise<void> {
  const counters = options.clients.map(() => 0);
  await runWorkerPool({
    workers: options.clients.length,
    untilMs: options.untilMs,
    nowMs: options.nowMs,
    maxOperationsPerWorker: options.maxOperationsPerWorker,
    step: ({ client, worker }) => {
      const element = `${worker}-${String(counters[worker]!++).padStart(7, "0")}`;
      const connection = options.clients[worker]!;
      return options.recorder.add({ client, op: "add", args: { element } }, () =>
        connection.counted((raw) => raw.put(encoder.encode(SET_PREFIX + element), encoder.encode(element))),
      );
    },
  });
}

/** The final read, retried (each attempt recorded) until one succeeds or the attempts run out. */
export async function runSetFinalRead(options: SetWorkloadOptions, client: number): Promise<void> {
  const connection = options.clients[0]!;
  for (let attempt = 0; attempt < FINAL_READ_ATTEMPTS; attempt++) {
    const operation = await options.recorder.readAll({ client: client + attempt, op: "read-all" }, () =>
      readOnly(async () => (await connection.counted((raw) => scanPrefix(raw, SET_PREFIX))).result),
    );
    if (operation.outcome === "ok") return;
    await new Promise((resolve) => setTimeout(resolve, FINAL_READ_RETRY_MS));
  }
}

async function scanPrefix(
  raw: { scan(start: Uint8Array, end: Uint8Array, limit: number): Promise<Array<{ key: Uint8Array }>> },
  prefix: string,
): Promise<string[]> {
  const end = encoder.encode(
    `${prefix.slice(0, -1)}${String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1)}`,
  );
  const elements: string[] = [];
  let start = encoder.encode(prefix);
  for (let page = 0; page < MAX_SCAN_PAGES; page++) {
    const pairs = await raw.scan(start, end, SCAN_PAGE);
    for (const pair of pairs) elements.push(decoder.decode(pair.key).slice(prefix.length));
    if (pairs.length < SCAN_PAGE) return elements;
    start = Uint8Array.from([...pairs[pairs.length - 1]!.key, 0]);
  }
  throw new Error(`set read exceeded ${MAX_SCAN_PAGES} pages`);
}
