/**
 * `npm run bench:txn-store [-- --duration S] [--concurrency 1,16,64,256] [--sides raw,txn] [--cpu-prof DIR]`
 *
 * Percolator prewrite + commit straight over the store's RPCs, with raw puts from the same run beside
 * them for scale. A transaction writes one fresh 16-byte key with a 100-byte value: start_ts from pd's
 * TSO, KvPrewrite (the key is its own primary, lock TTL 3 s) to the leader of the key's region, commit_ts
 * from the TSO, KvCommit; its latency is the whole of that. A raw put is one RawPut of a fresh key with
 * the same value. Both go through one client (the BatchCommands streams bench:kv's raw client uses), on
 * the same local 3-store cluster as bench:kv (pd and stores as child processes on 127.0.0.1); at each
 * concurrency the raw row runs first, then the transaction row.
 *
 * Prints throughput, p50/p99/p999 latency, the stores' raft fsyncs per second and entries per fsync, the
 * client's backoffs, p50/p99 of each transaction step, the txn/raw ratio per concurrency, and failures by
 * kind. `--sides txn` (or `raw`) runs one side only, e.g. to profile it with --cpu-prof (pd and the stores
 * write their profiles into the directory as they stop; see bench:kv).
 *
 * After each transaction row a sample of the keys it committed is read back with KvGet at a fresh
 * timestamp. Keys are fresh, so a key error or a wrong read-back is a bug: it is printed as it happens and
 * the run exits 1 at the end.
 */
import { parseArgs } from "node:util";
import { SeededRandom } from "#runtime";
import type { LoadResult } from "../shared/closed-loop.ts";
import { runClosedLoop } from "../shared/closed-loop.ts";
import { LocalCluster } from "../shared/local-cluster.ts";
import { ErrorTally, ReadBackError } from "./error-tally.ts";
import { commitOneKey, hex, readCommitted } from "./one-key-transaction.ts";
import { StepLatencies } from "./step-latencies.ts";
import { StoreClient } from "./store-client.ts";

const KEY_BYTES = 16;
const VALUE_BYTES = 100;
const SEED = 42;
/** Committed keys read back after each transaction row (a uniform sample of the row's commits). */
const READ_BACK_SAMPLE = 256;

type Side = "raw" | "txn";
const SIDES: readonly Side[] = ["raw", "txn"];

interface SideResult {
  readonly load: LoadResult;
  readonly fsyncsPerSecond: number;
  readonly entriesPerFsync: number;
  /** The client's backoffs during the row, by kind. */
  readonly backoffs: ReadonlyMap<string, number>;
  readonly errors: ErrorTally;
}

interface TxnResult extends SideResult {
  readonly steps: StepLatencies;
  /** Committed keys read back after the row with the value written. */
  readonly readBack: number;
}

interface Row {
  readonly concurrency: number;
  readonly raw?: SideResult;
  readonly txn?: TxnResult;
}

interface Plan {
  readonly concurrencies: readonly number[];
  readonly durationMs: number;
  readonly sides: readonly Side[];
}

/** Keys never written before in this run: a side's prefix and a run-wide counter, KEY_BYTES long. */
class FreshKeys {
  private readonly encoder = new TextEncoder();
  private counter = 0;

  next(side: Side): Uint8Array {
    const digits = KEY_BYTES - side.length;
    return this.encoder.encode(`${side}${String(this.counter++).padStart(digits, "0")}`);
  }
}

/** A bounded uniform sample of a stream (reservoir sampling). */
class Reservoir<T> {
  private readonly items: T[] = [];
  private seen = 0;

  constructor(
    private readonly capacity: number,
    private readonly random: SeededRandom,
  ) {}

  offer(item: T): void {
    this.seen++;
    if (this.items.length < this.capacity) {
      this.items.push(item);
      return;
    }
    const slot = this.random.intBelow(this.seen);
    if (slot < this.capacity) this.items[slot] = item;
  }

  values(): readonly T[] {
    return this.items;
  }
}

class Bench {
  private readonly keys = new FreshKeys();
  private readonly random = new SeededRandom(SEED);
  private readonly value = new Uint8Array(VALUE_BYTES).fill(0x61);

  constructor(
    private readonly cluster: LocalCluster,
    private readonly client: StoreClient,
  ) {}

  /** One raw put and one transaction, read back: the paths work before anything is timed. */
  async warmUp(): Promise<void> {
    await this.client.raw.put(this.keys.next("raw"), this.value);
    const key = this.keys.next("txn");
    await commitOneKey(this.client, key, this.value);
    const { failures } = await this.readBack([key]);
    if (failures.length > 0) throw failures[0];
  }

  async row(concurrency: number, durationMs: number, sides: readonly Side[]): Promise<Row> {
    const raw = sides.includes("raw") ? await this.rawSide(concurrency, durationMs) : undefined;
    const txn = sides.includes("txn") ? await this.txnSide(concurrency, durationMs) : undefined;
    return { concurrency, raw, txn };
  }

  private rawSide(concurrency: number, durationMs: number): Promise<SideResult> {
    return this.side("raw", concurrency, durationMs, (key) => this.client.raw.put(key, this.value));
  }

  /** Transactions, then a sample of the keys they committed read back. */
  private async txnSide(concurrency: number, durationMs: number): Promise<TxnResult> {
    const committed = new Reservoir<Uint8Array>(READ_BACK_SAMPLE, this.random);
    const steps = new StepLatencies();
    const result = await this.side("txn", concurrency, durationMs, async (key) => {
      await commitOneKey(this.client, key, this.value, (step, elapsedMs) => steps.record(step, elapsedMs));
      committed.offer(key);
    });
    const { ok, failures } = await this.readBack(committed.values());
    for (const failure of failures) this.record(result.errors, failure, "txn", concurrency);
    return { ...result, steps, readBack: ok };
  }

  private async side(
    side: Side,
    concurrency: number,
    durationMs: number,
    operation: (key: Uint8Array) => Promise<void>,
  ): Promise<SideResult> {
    const errors = new ErrorTally();
    const before = await this.cluster.storeMetrics();
    const backoffsBefore = await this.client.backoffs();
    const startedMs = performance.now();
    const load = await runClosedLoop({
      concurrency,
      durationMs,
      nextInput: () => this.keys.next(side),
      operation,
      onError: (error) => this.record(errors, error, side, concurrency),
    });
    const after = await this.cluster.storeMetrics();
    const backoffs = new Map<string, number>();
    for (const [kind, count] of await this.client.backoffs()) {
      const during = count - (backoffsBefore.get(kind) ?? 0);
      if (during > 0) backoffs.set(kind, during);
    }
    const fsyncs = after.fsyncs - before.fsyncs;
    const unit = side === "raw" ? "ops/s" : "txn/s";
    process.stderr.write(`${side} c=${concurrency}: ${load.opsPerSecond.toFixed(0)} ${unit}\n`);
    return {
      load,
      fsyncsPerSecond: fsyncs / ((performance.now() - startedMs) / 1000),
      entriesPerFsync: fsyncs === 0 ? 0 : (after.entriesSynced - before.entriesSynced) / fsyncs,
      backoffs,
      errors,
    };
  }

  /** Counts a failure; the first of each kind is printed at once, a bug loudly. */
  private record(errors: ErrorTally, error: unknown, side: Side, concurrency: number): void {
    const first = errors.add(error);
    if (!first) return;
    const message = error instanceof Error ? error.message : String(error);
    const banner = ErrorTally.isBug(error) ? "!!! BUG (fresh keys cannot meet this): " : "first error: ";
    process.stderr.write(`${side} c=${concurrency}: ${banner}${message}\n`);
  }

  /** Reads `keys` back with KvGet at a fresh timestamp: how many hold the value written, and what failed. */
  private async readBack(keys: readonly Uint8Array[]): Promise<{ ok: number; failures: unknown[] }> {
    if (keys.length === 0) return { ok: 0, failures: [] };
    const readTs = await this.client.pd.getTimestamp();
    const reads = await Promise.allSettled(keys.map((key) => readCommitted(this.client, key, readTs)));
    let ok = 0;
    const failures: unknown[] = [];
    for (const [index, read] of reads.entries()) {
      if (read.status === "rejected") {
        failures.push(read.reason);
        continue;
      }
      const value = read.value;
      if (value !== undefined && Buffer.compare(value, this.value) === 0) {
        ok++;
        continue;
      }
      const found = value === undefined ? "nothing" : `${value.length} bytes ${hex(value.subarray(0, 16))}…`;
      failures.push(new ReadBackError(`committed key ${hex(keys[index]!)} read at ${readTs} gave ${found}`));
    }
    return { ok, failures };
  }
}

function formatSide(side: SideResult, unit: string): string {
  const { load } = side;
  const backoffs = [...side.backoffs].map(([kind, count]) => `${kind} ${count}`).join(", ");
  const errors = side.errors.total;
  return `${load.opsPerSecond.toFixed(0).padStart(7)} ${unit} p50 ${load.p50Ms.toFixed(2)} p99 ${load.p99Ms.toFixed(2)} p999 ${load.p999Ms.toFixed(2)} ms${errors > 0 ? ` (${errors} errors)` : ""} | fsyncs/s ${side.fsyncsPerSecond.toFixed(0)} entries/fsync ${side.entriesPerFsync.toFixed(1)}${backoffs === "" ? "" : ` | client backoffs: ${backoffs}`}`;
}

function formatRow(row: Row): string[] {
  const c = String(row.concurrency).padEnd(3);
  const { raw, txn } = row;
  const lines: string[] = [];
  if (raw !== undefined) lines.push(`put c=${c} raw ${formatSide(raw, "ops/s")}`);
  if (txn !== undefined) {
    lines.push(`txn c=${c} 2pc ${formatSide(txn, "txn/s")} | read back ${txn.readBack} ok`);
    lines.push(`    c=${c} txn steps p50/p99 ms: ${txn.steps.describe()}`);
  }
  if (raw !== undefined && txn !== undefined) {
    const throughput = txn.load.opsPerSecond / raw.load.opsPerSecond;
    const p50 = txn.load.p50Ms / raw.load.p50Ms;
    const p99 = txn.load.p99Ms / raw.load.p99Ms;
    lines.push(
      `    c=${c} txn/raw: throughput ${throughput.toFixed(2)}x, p50 latency ${p50.toFixed(2)}x, p99 latency ${p99.toFixed(2)}x`,
    );
  }
  return lines;
}

/** Failures by kind per row; returns how many were bugs (key errors, wrong read-backs). */
function reportErrors(rows: readonly Row[]): number {
  let bugs = 0;
  const lines: string[] = [];
  for (const row of rows) {
    for (const [side, result] of [
      ["raw", row.raw],
      ["txn", row.txn],
    ] as const) {
      if (result === undefined) continue;
      bugs += result.errors.bugs;
      for (const entry of result.errors.entries()) {
        lines.push(`  ${side} c=${row.concurrency}: ${entry.count} × ${entry.kind}`);
        lines.push(`      e.g. ${entry.example.split("\n").join("\n      ")}`);
      }
    }
  }
  process.stdout.write(lines.length === 0 ? "errors: none\n" : `errors by kind:\n${lines.join("\n")}\n`);
  if (bugs > 0) {
    process.stdout.write(
      `!!! ${bugs} KEY ERROR(S) OR WRONG READ-BACK(S) with fresh keys: a bug in the store (exit 1)\n`,
    );
  }
  return bugs;
}

function parsePlan(): Plan & { readonly cpuProfileDir?: string; readonly durationText: string } {
  const { values } = parseArgs({
    options: {
      duration: { type: "string", default: "10" },
      concurrency: { type: "string", default: "1,16,64,256" },
      sides: { type: "string", default: SIDES.join(",") },
      "cpu-prof": { type: "string" },
    },
  });
  const sides = values.sides.split(",").map((name) => {
    const side = SIDES.find((known) => known === name);
    if (side === undefined) throw new Error(`unknown side "${name}"; use ${SIDES.join(", ")}`);
    return side;
  });
  const durationSeconds = Number(values.duration);
  if (!(durationSeconds > 0)) throw new Error(`--duration must be a positive number of seconds`);
  const concurrencies = values.concurrency.split(",").map((text) => {
    const concurrency = Number(text);
    if (!Number.isSafeInteger(concurrency) || concurrency < 1)
      throw new Error(`--concurrency takes positive integers separated by commas, got "${text}"`);
    return concurrency;
  });
  return {
    concurrencies,
    sides,
    durationMs: durationSeconds * 1000,
    durationText: values.duration,
    cpuProfileDir: values["cpu-prof"],
  };
}

async function run(plan: Plan, cluster: LocalCluster): Promise<Row[]> {
  const client = await StoreClient.connect(cluster.pdUrl);
  try {
    const bench = new Bench(cluster, client);
    await bench.warmUp();
    const rows: Row[] = [];
    for (const concurrency of plan.concurrencies)
      rows.push(await bench.row(concurrency, plan.durationMs, plan.sides));
    return rows;
  } finally {
    await client.close();
  }
}

async function main(): Promise<void> {
  const plan = parsePlan();
  const cluster = await LocalCluster.start({ label: "txn-store", cpuProfileDir: plan.cpuProfileDir });
  let rows: Row[];
  try {
    rows = await run(plan, cluster);
  } finally {
    await cluster.close();
  }
  process.stdout.write(
    `bench:txn-store ${new Date().toISOString()} duration ${plan.durationText}s per row, fresh ${KEY_BYTES}-byte keys, ${VALUE_BYTES}-byte values\n`,
  );
  for (const row of rows) process.stdout.write(`${formatRow(row).join("\n")}\n`);
  if (reportErrors(rows) > 0) process.exitCode = 1;
}

main().catch((error: unknown) => {
  process.stderr.write(
    `bench:txn-store: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exitCode = 1;
});
