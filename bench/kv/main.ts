/**
 * `npm run bench:kv [-- --vs-etcd] [--duration S] [--concurrency 1,16,64,256] [--operations put,get]
 *   [--cpu-prof DIR]`
 * Raw put and get (16-byte keys, 100-byte values, uniform over 100k keys) at each concurrency against a
 * local 3-store Tessera cluster on 127.0.0.1; with --vs-etcd the identical workload (same generator, same
 * client-side concurrency, linearizable reads) against a 3-member etcd in the same invocation, with the
 * ratio per row. Also prints the stores' raft-engine fsyncs per second and entries per fsync. With
 * --cpu-prof, pd and the stores run under `node --cpu-prof` and write their profiles into DIR as they stop
 * (open them in Chrome DevTools, or summarise with `node scripts/cpu-profile-summary.mjs FILE`).
 */
import { parseArgs } from "node:util";
import { SeededRandom } from "#runtime";
import { EtcdTarget } from "./etcd-target.ts";
import type { KvTarget } from "./kv-target.ts";
import { type LoadResult, type OperationName, runLoad } from "./load-generator.ts";
import { TesseraTarget } from "./tessera-target.ts";

const KEY_COUNT = 100_000;
const KEY_BYTES = 16;
const VALUE_BYTES = 100;
const SEED = 42;
const OPERATION_NAMES: readonly OperationName[] = ["put", "get"];

function makeKeys(): Uint8Array[] {
  const encoder = new TextEncoder();
  return Array.from({ length: KEY_COUNT }, (_, index) =>
    encoder.encode(`bench${String(index).padStart(KEY_BYTES - 5, "0")}`),
  );
}

interface Row {
  readonly operation: OperationName;
  readonly concurrency: number;
  readonly tessera: LoadResult;
  readonly fsyncsPerSecond: number;
  readonly entriesPerFsync: number;
  /** The client's backoffs during the row, by kind. */
  readonly backoffs: ReadonlyMap<string, number>;
  etcd?: LoadResult;
}

async function measure(
  target: KvTarget,
  operation: OperationName,
  concurrency: number,
  durationMs: number,
  keys: readonly Uint8Array[],
  value: Uint8Array,
): Promise<LoadResult> {
  return runLoad({ target, operation, concurrency, durationMs, keys, value, random: new SeededRandom(SEED) });
}

interface Plan {
  readonly operations: readonly OperationName[];
  readonly concurrencies: readonly number[];
  readonly durationMs: number;
  readonly cpuProfileDir?: string;
}

async function runTessera(plan: Plan, keys: readonly Uint8Array[], value: Uint8Array) {
  const { concurrencies, durationMs } = plan;
  const target = await TesseraTarget.start({ cpuProfileDir: plan.cpuProfileDir });
  const rows: Row[] = [];
  try {
    await target.preload(keys, value);
    for (const operation of plan.operations) {
      for (const concurrency of concurrencies) {
        const before = await target.storeMetrics();
        const backoffsBefore = await target.clientBackoffs();
        const startedMs = performance.now();
        const tessera = await measure(target, operation, concurrency, durationMs, keys, value);
        const after = await target.storeMetrics();
        const backoffs = new Map<string, number>();
        for (const [kind, count] of await target.clientBackoffs()) {
          const during = count - (backoffsBefore.get(kind) ?? 0);
          if (during > 0) backoffs.set(kind, during);
        }
        const fsyncs = after.fsyncs - before.fsyncs;
        rows.push({
          operation,
          concurrency,
          tessera,
          fsyncsPerSecond: fsyncs / ((performance.now() - startedMs) / 1000),
          entriesPerFsync: fsyncs === 0 ? 0 : (after.entriesSynced - before.entriesSynced) / fsyncs,
          backoffs,
        });
        process.stderr.write(
          `tessera ${operation} c=${concurrency}: ${tessera.opsPerSecond.toFixed(0)} ops/s\n`,
        );
      }
    }
  } finally {
    await target.close();
  }
  return rows;
}

async function runEtcd(
  rows: Row[],
  durationMs: number,
  keys: readonly Uint8Array[],
  value: Uint8Array,
): Promise<void> {
  const target = await EtcdTarget.start();
  try {
    await target.preload(keys, value);
    for (const row of rows) {
      row.etcd = await measure(target, row.operation, row.concurrency, durationMs, keys, value);
      process.stderr.write(
        `etcd ${row.operation} c=${row.concurrency}: ${row.etcd.opsPerSecond.toFixed(0)} ops/s\n`,
      );
    }
  } finally {
    await target.close();
  }
}

function formatRow(row: Row): string {
  const cell = (result: LoadResult) =>
    `${result.opsPerSecond.toFixed(0).padStart(7)} ops/s p50 ${result.p50Ms.toFixed(2)} p99 ${result.p99Ms.toFixed(2)} p999 ${result.p999Ms.toFixed(2)} ms${result.errors > 0 ? ` (${result.errors} errors)` : ""}`;
  const backoffs = [...row.backoffs].map(([kind, count]) => `${kind} ${count}`).join(", ");
  const base = `${row.operation.padEnd(3)} c=${String(row.concurrency).padEnd(3)} tessera ${cell(row.tessera)} | fsyncs/s ${row.fsyncsPerSecond.toFixed(0)} entries/fsync ${row.entriesPerFsync.toFixed(1)}${backoffs === "" ? "" : ` | client backoffs: ${backoffs}`}`;
  if (row.etcd === undefined) return base;
  return `${base} | etcd ${cell(row.etcd)} | ratio ${(row.tessera.opsPerSecond / row.etcd.opsPerSecond).toFixed(2)}x`;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      "vs-etcd": { type: "boolean", default: false },
      duration: { type: "string", default: "10" },
      concurrency: { type: "string", default: "1,16,64,256" },
      operations: { type: "string", default: OPERATION_NAMES.join(",") },
      "cpu-prof": { type: "string" },
    },
  });
  const durationMs = Number(values.duration) * 1000;
  const operations = values.operations.split(",").map((name) => {
    const operation = OPERATION_NAMES.find((known) => known === name);
    if (operation === undefined)
      throw new Error(`unknown operation "${name}"; use ${OPERATION_NAMES.join(", ")}`);
    return operation;
  });
  const plan: Plan = {
    operations,
    concurrencies: values.concurrency.split(",").map(Number),
    durationMs,
    cpuProfileDir: values["cpu-prof"],
  };
  const keys = makeKeys();
  const value = new Uint8Array(VALUE_BYTES).fill(0x61);
  const rows = await runTessera(plan, keys, value);
  if (values["vs-etcd"]) await runEtcd(rows, durationMs, keys, value);
  process.stdout.write(
    `bench:kv ${new Date().toISOString()} duration ${values.duration}s per row, ${KEY_COUNT} keys\n`,
  );
  for (const row of rows) process.stdout.write(`${formatRow(row)}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(
    `bench:kv: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exitCode = 1;
});
