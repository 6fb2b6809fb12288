/**
 * A local Tessera cluster for the benchmark (pd and three stores as child processes, see
 * ../shared/local-cluster.ts), driven through the raw KV client.
 */
import type { Registry } from "prom-client";
import { RawKvClient } from "#client";
import { createRegistry, MetricFactory } from "#observability";
import { LocalCluster, type StoreMetricsSample } from "../shared/local-cluster.ts";
import type { KvTarget } from "./kv-target.ts";

const PRELOAD_BATCH = 512;
const PRELOAD_PARALLEL_BATCHES = 8;

export interface TesseraTargetOptions {
  /** Run every process with `--cpu-prof`, writing its profile into this directory when it stops. */
  readonly cpuProfileDir?: string;
}

export class TesseraTarget implements KvTarget {
  readonly name = "tessera";

  private constructor(
    private readonly client: RawKvClient,
    private readonly clientMetrics: Registry,
    private readonly cluster: LocalCluster,
  ) {}

  static async start(options: TesseraTargetOptions = {}): Promise<TesseraTarget> {
    const cluster = await LocalCluster.start({ label: "kv", cpuProfileDir: options.cpuProfileDir });
    try {
      const clientMetrics = createRegistry("bench");
      const client = await RawKvClient.connect({
        pdEndpoints: [cluster.pdUrl],
        metrics: new MetricFactory(clientMetrics, "bench"),
      });
      return new TesseraTarget(client, clientMetrics, cluster);
    } catch (error) {
      await cluster.close();
      throw error;
    }
  }

  put(key: Uint8Array, value: Uint8Array): Promise<void> {
    return this.client.put(key, value);
  }

  async get(key: Uint8Array): Promise<void> {
    await this.client.get(key);
  }

  async preload(keys: readonly Uint8Array[], value: Uint8Array): Promise<void> {
    const batches: Uint8Array[][] = [];
    for (let index = 0; index < keys.length; index += PRELOAD_BATCH)
      batches.push(keys.slice(index, index + PRELOAD_BATCH));
    let next = 0;
    await Promise.all(
      Array.from({ length: PRELOAD_PARALLEL_BATCHES }, async () => {
        while (next < batches.length) {
          const batch = batches[next++]!;
          await this.client.batchPut(batch.map((key) => ({ key, value })));
        }
      }),
    );
  }

  /** Raft-engine fsyncs and the entries they made durable, summed over the stores. */
  storeMetrics(): Promise<StoreMetricsSample> {
    return this.cluster.storeMetrics();
  }

  /** The client's backoffs so far by kind: which failures cost it time (ServerIsBusy, leader changes...). */
  async clientBackoffs(): Promise<Map<string, number>> {
    const counter = this.clientMetrics.getSingleMetric("bench_tikvclient_backoff_total");
    const values = (await counter?.get())?.values ?? [];
    return new Map(values.map((sample) => [String(sample.labels.kind), sample.value]));
  }

  async close(): Promise<void> {
    try {
      await this.client.close();
    } finally {
      await this.cluster.close();
    }
  }
}
