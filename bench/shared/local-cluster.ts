/**
 * A local Tessera cluster for benchmarks: pd and three stores as child processes on 127.0.0.1 (free
 * ports), started from the same entry points users run, in a temporary data directory removed on close.
 * Ready once every region has a replica on every store and a leader.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { sleep } from "#runtime";
import { NodeProcess } from "../../tests/chaos/netns/node-process.ts";

const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const STORES = 3;
const REPLICATION_TIMEOUT_MS = 60_000;
/** How long a profiled process may take to stop gracefully (and write its profile). */
const PROFILED_STOP_GRACE_MS = 30_000;

export interface LocalClusterOptions {
  /** Names the temporary data directory (`tessera-bench-<label>-XXXXXX`). */
  readonly label: string;
  /** Run every process with `--cpu-prof`, writing its profile into this directory when it stops. */
  readonly cpuProfileDir?: string;
}

export interface StoreMetricsSample {
  readonly fsyncs: number;
  readonly entriesSynced: number;
}

export class LocalCluster {
  private constructor(
    /** pd's gRPC endpoint, for clients. */
    readonly pdUrl: string,
    private readonly processes: readonly NodeProcess[],
    private readonly statusUrls: readonly string[],
    private readonly dataRoot: string,
    private readonly profiled: boolean,
  ) {}

  static async start(options: LocalClusterOptions): Promise<LocalCluster> {
    const dataRoot = mkdtempSync(join(tmpdir(), `tessera-bench-${options.label}-`));
    const processes: NodeProcess[] = [];
    const nodeFlags =
      options.cpuProfileDir === undefined ? [] : ["--cpu-prof", "--cpu-prof-dir", options.cpuProfileDir];
    try {
      const pd = startProcess(processes, "pd", "pd ready", nodeFlags, [
        "services/pd/src/main.ts",
        ...["--data-dir", join(dataRoot, "pd"), "--client-port", "0", "--http-port", "0"],
        ...["--log.level", "info", "--schedule.interval", "200ms"],
      ]);
      await pd.start();
      const pdUrl = String(pd.readyRecord.clientUrl);
      const httpUrl = String(pd.readyRecord.httpUrl);
      const statusUrls: string[] = [];
      for (let index = 1; index <= STORES; index++) {
        const store = startProcess(processes, `store${index}`, "store ready", nodeFlags, [
          "services/tikv-store/src/main.ts",
          ...["--data-dir", join(dataRoot, `store${index}`), "--pd.endpoints", pdUrl],
          ...["--server.addr", "127.0.0.1:0", "--server.status-addr", "127.0.0.1:0"],
          ...["--pd.region-heartbeat-interval", "1s", "--pd.store-heartbeat-interval", "1s"],
        ]);
        await store.start();
        statusUrls.push(`http://${String(store.readyRecord.statusAddress)}`);
      }
      await waitReplicated(httpUrl);
      return new LocalCluster(pdUrl, processes, statusUrls, dataRoot, nodeFlags.length > 0);
    } catch (error) {
      await Promise.all(processes.map((process) => process.kill()));
      rmSync(dataRoot, { recursive: true, force: true });
      throw error;
    }
  }

  /** Raft-engine fsyncs and the entries they made durable, summed over the stores. */
  async storeMetrics(): Promise<StoreMetricsSample> {
    let fsyncs = 0;
    let entriesSynced = 0;
    for (const url of this.statusUrls) {
      const text = await (await fetch(`${url}/metrics`)).text();
      fsyncs += metricValue(text, "raftstore_fsync_total");
      entriesSynced += metricValue(text, "raftstore_entries_per_fsync_count_sum");
    }
    return { fsyncs, entriesSynced };
  }

  /** Stops the stores, then pd (gracefully when profiled, so profiles get written), and removes the data. */
  async close(): Promise<void> {
    // Stores first: a store stopping gracefully asks pd to move its leaders away.
    const stores = this.processes.filter((process) => process.name !== "pd");
    const pd = this.processes.filter((process) => process.name === "pd");
    for (const group of [stores, pd]) {
      await Promise.all(
        group.map((process) => (this.profiled ? process.stop(PROFILED_STOP_GRACE_MS) : process.kill())),
      );
    }
    rmSync(this.dataRoot, { recursive: true, force: true });
  }
}

function startProcess(
  processes: NodeProcess[],
  name: string,
  readyMessage: string,
  nodeFlags: readonly string[],
  args: readonly string[],
): NodeProcess {
  const [main, ...flags] = args;
  const process_ = new NodeProcess({
    name,
    command: [process.execPath, ...nodeFlags, "--import", "tsx", join(REPO_ROOT, main!), ...flags],
    cwd: REPO_ROOT,
    readyMessage,
  });
  processes.push(process_);
  return process_;
}

async function waitReplicated(httpUrl: string): Promise<void> {
  const deadline = Date.now() + REPLICATION_TIMEOUT_MS;
  while (Date.now() < deadline) {
    try {
      const body = (await (await fetch(`${httpUrl}/pd/api/v1/regions`)).json()) as {
        regions?: Array<{ peers: unknown[]; leader?: unknown }>;
      };
      const regions = body.regions ?? [];
      if (regions.length > 0 && regions.every((region) => region.peers.length === STORES && region.leader))
        return;
    } catch {
      // pd not answering yet.
    }
    await sleep(250);
  }
  throw new Error(`regions not replicated to ${STORES} stores within ${REPLICATION_TIMEOUT_MS} ms`);
}

/** The sum of every sample of a metric whose name ends with `suffix` (labels ignored). */
function metricValue(text: string, suffix: string): number {
  let total = 0;
  for (const line of text.split("\n")) {
    if (line.startsWith("#")) continue;
    const [nameWithLabels, value] = line.split(" ");
    const name = (nameWithLabels ?? "").split("{")[0] ?? "";
    if (name.endsWith(suffix)) total += Number(value);
  }
  return total;
}
