/**
 * One chaos run: start the namespaced cluster, run a workload while the nemesis injects faults, heal,
 * finish the workload (the set's final read), check the history, write it to a file, and tear everything
 * down, also when a step throws. Used by main.ts (the CLI) and chaos.test.ts.
 */
import { mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SeededRandom } from "#runtime";
import { checkLinearizability, type LinearizabilityReport } from "./checker/linearizability.ts";
import { checkSet, type SetReport } from "./checker/set.ts";
import { writeHistoryFile } from "./history/history-file.ts";
import type { Operation } from "./history/operation.ts";
import { HistoryRecorder } from "./history/recorder.ts";
import { type FaultKind, type FaultRecord, Nemesis } from "./nemesis/nemesis.ts";
import { ChaosCluster } from "./netns/chaos-cluster.ts";
import { describeAvailability } from "./report/availability.ts";
import { CountingRawKvClient } from "./workload/attempt-counting-client.ts";
import { operationKey, regionIndexOf, splitKeys } from "./workload/key-regions.ts";
import { classifyClientError } from "./workload/outcomes.ts";
import { runRegisterWorkload } from "./workload/register-workload.ts";
import { runSetFinalRead, runSetInserts } from "./workload/set-workload.ts";
import type { WorkloadName } from "./workload/workload-name.ts";

export type { WorkloadName } from "./workload/workload-name.ts";

export interface ChaosRunOptions {
  readonly workload: WorkloadName;
  readonly timeSeconds: number;
  readonly nemesis: readonly FaultKind[];
  readonly seed: number;
  /** Regions the workload's keys are spread over (the key space is split before the run). */
  readonly regions?: number;
  readonly workers?: number;
  readonly healthyMs?: number;
  readonly faultMs?: number;
  /** Where the history file goes; a temp directory by default. */
  readonly historyDirectory?: string;
  readonly log?: (line: string) => void;
}

export interface ChaosRunResult {
  readonly ok: boolean;
  readonly verdict: string;
  readonly historyPath: string;
  readonly operations: number;
  readonly faults: readonly FaultRecord[];
  readonly report: LinearizabilityReport | SetReport;
  readonly availability: readonly string[];
}

const DEFAULT_WORKERS = 5;
const DEFAULT_REGIONS = 3;
const DEFAULT_HEALTHY_MS = 4_000;
const DEFAULT_FAULT_MS = 4_000;
const REQUEST_TIMEOUT_MS = 2_000;
const BACKOFF_BUDGET_MS = 5_000;
const KEYS_PER_ROTATION = 3;
const KEY_ROTATION_MS = 3_000;
const MAX_OPERATIONS_PER_WORKER = 100_000;
/** After healing, operations run on briefly so the history shows recovery. */
const RECOVERY_MS = 3_000;
const PD_FAULT_SHARE = 0.2;

export async function runChaos(options: ChaosRunOptions): Promise<ChaosRunResult> {
  const log = options.log ?? ((line: string) => process.stdout.write(`${line}\n`));
  const random = new SeededRandom(options.seed);
  log(
    `chaos: workload=${options.workload} time=${options.timeSeconds}s nemesis=${options.nemesis.join(",")} seed=${options.seed}`,
  );
  const cluster = await ChaosCluster.start();
  const clients: CountingRawKvClient[] = [];
  const regions = options.regions ?? DEFAULT_REGIONS;
  const keys = splitKeys(options.workload, regions);
  try {
    await cluster.split(keys);
    log(`regions: ${regions} (split at ${keys.join(", ") || "nothing"})`);
    const workers = options.workers ?? Math.max(DEFAULT_WORKERS, regions);
    for (let index = 0; index < workers; index++) {
      clients.push(
        await CountingRawKvClient.connect({
          pdEndpoints: [cluster.pdEndpoint],
          requestTimeoutMs: REQUEST_TIMEOUT_MS,
          backoffBudgetMs: BACKOFF_BUDGET_MS,
        }),
      );
    }
    const startMs = performance.now();
    const nowMs = (): number => Math.round(performance.now() - startMs);
    const recorder = new HistoryRecorder({ nowMs, classifyError: classifyClientError });
    const faultUntilMs = options.timeSeconds * 1000;
    const nemesis = new Nemesis({
      cluster,
      kinds: options.nemesis,
      random: random.fork(),
      nowMs,
      healthyMs: options.healthyMs ?? DEFAULT_HEALTHY_MS,
      faultMs: options.faultMs ?? DEFAULT_FAULT_MS,
      pdFaultShare: PD_FAULT_SHARE,
    });
    const stopNemesis = new AbortController();
    // A fault that cannot be undone (a killed store that fails to start again) ends the run, but only
    // after the workload stops and the cluster is torn down: an unhandled rejection would exit at once
    // and leave processes and data behind.
    let nemesisFailure: { readonly error: unknown } | undefined;
    const nemesisDone = (
      options.nemesis.length === 0 ? Promise.resolve() : nemesis.run(faultUntilMs, stopNemesis.signal)
    ).catch((error: unknown) => {
      nemesisFailure = { error };
    });
    try {
      await runWorkload(options.workload, regions, {
        clients,
        recorder,
        random,
        nowMs,
        untilMs: faultUntilMs + RECOVERY_MS,
      });
    } finally {
      stopNemesis.abort();
      await nemesisDone;
      await nemesis.healAll();
    }
    if (nemesisFailure !== undefined) throw nemesisFailure.error;
    if (options.workload === "set") {
      await runSetFinalRead({ clients, recorder, nowMs, untilMs: 0, maxOperationsPerWorker: 0 }, 1_000_000);
    }
    return await finish(options, keys, recorder.history(), nemesis.faults, log);
  } finally {
    await Promise.all(clients.map((client) => client.close()));
    await cluster.destroy();
  }
}

interface WorkloadRun {
  readonly clients: readonly CountingRawKvClient[];
  readonly recorder: HistoryRecorder;
  readonly random: SeededRandom;
  readonly nowMs: () => number;
  readonly untilMs: number;
}

function runWorkload(workload: WorkloadName, regions: number, run: WorkloadRun): Promise<void> {
  if (workload === "set") return runSetInserts({ ...run, maxOperationsPerWorker: MAX_OPERATIONS_PER_WORKER });
  return runRegisterWorkload({
    ...run,
    // At least one key per region, so every region sees traffic.
    keysPerRotation: Math.max(KEYS_PER_ROTATION, regions),
    keyRotationMs: KEY_ROTATION_MS,
    maxOperationsPerWorker: MAX_OPERATIONS_PER_WORKER,
  });
}

async function finish(
  options: ChaosRunOptions,
  keys: readonly string[],
  history: Operation[],
  faults: readonly FaultRecord[],
  log: (line: string) => void,
): Promise<ChaosRunResult> {
  const directory = options.historyDirectory ?? join(tmpdir(), "tessera-chaos-histories");
  mkdirSync(directory, { recursive: true });
  const historyPath = join(directory, `${options.workload}-seed${options.seed}-${Date.now()}.jsonl`);
  await writeHistoryFile(historyPath, history);
  const report = options.workload === "set" ? checkSet(history) : checkLinearizability(history);
  const availability = describeAvailability(faults, history, (operation) => {
    const key = operationKey(operation);
    return key === undefined ? undefined : regionIndexOf(key, keys);
  });
  const outcomes = countOutcomes(history);
  log(
    `operations: ${history.length} (ok ${outcomes.ok}, fail ${outcomes.fail}, unknown ${outcomes.unknown})`,
  );
  for (const line of availability) log(line);
  log(`history: ${historyPath}`);
  log(`verdict: ${report.verdict}`);
  for (const line of explainReport(report)) log(line);
  return {
    ok: report.ok,
    verdict: report.verdict,
    historyPath,
    operations: history.length,
    faults,
    report,
    availability,
  };
}

function countOutcomes(history: readonly Operation[]): Record<Operation["outcome"], number> {
  const counts = { ok: 0, fail: 0, unknown: 0 };
  for (const operation of history) counts[operation.outcome]++;
  return counts;
}

function explainReport(report: LinearizabilityReport | SetReport): string[] {
  if ("failures" in report) {
    return [
      `keys checked: ${report.keysChecked}, operations: ${report.operationsChecked}`,
      ...report.failures.map((failure) => failure.explanation),
      ...report.budgetExceeded.map((key) => `search budget exceeded on ${key.key} (${key.operations} ops)`),
    ];
  }
  return [
    `attempted ${report.attempted}, acknowledged ${report.acknowledged}, final read ${report.finalReadSize}`,
    `lost ${report.lost.length}, phantoms ${report.phantoms.length}, failed-but-present ${report.failedButPresent.length}, duplicates ${report.duplicates.length}`,
    ...report.lost.slice(0, 10).map((element) => `  lost: ${element}`),
  ];
}
