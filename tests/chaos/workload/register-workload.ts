/**
 * Jepsen's register workload on the raw KV API: workers read, write and compare-and-swap small values
 * ("0".."4", so swaps often match) on a few keys. Keys rotate every `keyRotationMs` so each key's history
 * stays short enough for the linearizability search even when faults leave many outcomes unknown.
 */
import type { Random } from "#runtime";
import type { RegisterValue } from "../history/operation.ts";
import type { HistoryRecorder } from "../history/recorder.ts";
import type { CountingRawKvClient } from "./attempt-counting-client.ts";
import { AmbiguousSwapError, readOnly } from "./outcomes.ts";
import { runWorkerPool, type WorkerContext } from "./worker-pool.ts";

export interface RegisterWorkloadOptions {
  readonly clients: readonly CountingRawKvClient[];
  readonly recorder: HistoryRecorder;
  readonly random: Random;
  readonly nowMs: () => number;
  readonly untilMs: number;
  readonly keysPerRotation: number;
  readonly keyRotationMs: number;
  readonly maxOperationsPerWorker: number;
}

const VALUE_COUNT = 5;
const READ_SHARE = 0.5;
const WRITE_SHARE = 0.25;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Key `index` of a rotation; the index leads so each index's keys stay in one shard (key-regions.ts). */
export function registerKey(rotation: number, index: number): string {
  return `chaos/register/${index}/${String(rotation).padStart(4, "0")}`;
}

export async function runRegisterWorkload(options: RegisterWorkloadOptions): Promise<void> {
  const startMs = options.nowMs();
  await runWorkerPool({
    workers: options.clients.length,
    untilMs: options.untilMs,
    nowMs: options.nowMs,
    maxOperationsPerWorker: options.maxOperationsPerWorker,
    step: (context) => {
      const rotation = Math.floor((options.nowMs() - startMs) / options.keyRotationMs);
      const key = registerKey(rotation, options.random.intBelow(options.keysPerRotation));
      return registerStep(options, context, key);
    },
  });
}

function registerStep(options: RegisterWorkloadOptions, context: WorkerContext, key: string) {
  const { recorder, random } = options;
  const connection = options.clients[context.worker]!;
  const keyBytes = encoder.encode(key);
  const roll = random.nextFloat();
  const randomValue = (): string => String(random.intBelow(VALUE_COUNT));
  if (roll < READ_SHARE) {
    return recorder.read({ client: context.client, op: "read", key }, () =>
      readOnly(async () => decodeValue((await connection.counted((raw) => raw.get(keyBytes))).result)),
    );
  }
  if (roll < READ_SHARE + WRITE_SHARE) {
    const value = randomValue();
    return recorder.write({ client: context.client, op: "write", key, args: { value } }, () =>
      connection.counted((raw) => raw.put(keyBytes, encoder.encode(value))),
    );
  }
  const expected: RegisterValue = randomValue();
  const next = randomValue();
  return recorder.cas({ client: context.client, op: "cas", key, args: { expected, new: next } }, async () => {
    const { result, attempts } = await connection.counted((raw) =>
      raw.compareAndSwap(keyBytes, encoder.encode(expected), encoder.encode(next)),
    );
    if (!result.succeeded && attempts > 1) throw new AmbiguousSwapError(attempts);
    return result.succeeded;
  });
}

function decodeValue(value: Uint8Array | undefined): RegisterValue {
  return value === undefined ? null : decoder.decode(value);
}
