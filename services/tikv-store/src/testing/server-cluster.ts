/**
 * Test-only: a real pd (embedded backend) and stores started in this process on 127.0.0.1 with free
 * ports and temporary data directories, with a RawRpcClient. Not used by production code; the full
 * cluster harness lives in tests/cluster/store.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PdClient } from "#client";
import { createLogger, LOG_LEVELS, type LogLevel } from "#observability";
import { pdOptionsWithDefaults, type RunningPd, startPd } from "../../../pd/src/server/pd-server.ts";
import { defaultRaftstoreConfig } from "../raftstore/raftstore-config.ts";
import {
  type RunningStore,
  type StoreServerOptions,
  startStore,
  storeOptionsWithDefaults,
} from "../server/store-server.ts";
import { RawRpcClient } from "./raw-rpc-client.ts";

/** Silent unless TESSERA_TEST_LOG_LEVEL names a level (to debug a failing cluster test). */
function testLogLevel(): LogLevel {
  const level = process.env.TESSERA_TEST_LOG_LEVEL;
  return LOG_LEVELS.includes(level as LogLevel) ? (level as LogLevel) : "silent";
}

/** A pd on free ports that schedules every 200 ms, so replicas are added quickly. */
export function startTestPd(dataDir: string): Promise<RunningPd> {
  return startPd(
    pdOptionsWithDefaults({
      dataDir,
      listenHost: "127.0.0.1",
      clientPort: 0,
      httpPort: 0,
      scheduleIntervalMs: 200,
      logLevel: testLogLevel(),
    }),
  );
}

export class TestCluster {
  readonly stores = new Map<number, RunningStore>();
  readonly dataDirs: string[] = [];
  readonly client: RawRpcClient;

  private constructor(
    readonly pd: RunningPd,
    readonly pdClient: PdClient,
    private readonly root: string,
  ) {
    this.client = new RawRpcClient(pdClient);
  }

  static async start(storeCount: number): Promise<TestCluster> {
    const root = mkdtempSync(join(tmpdir(), "tessera-store-cluster-"));
    const pd = await startTestPd(join(root, "pd"));
    const pdClient = await PdClient.connect({ endpoints: [pd.clientUrl] });
    const cluster = new TestCluster(pd, pdClient, root);
    for (let index = 0; index < storeCount; index++) {
      cluster.dataDirs.push(join(root, `store-${index}`));
      await cluster.startStore(index);
    }
    return cluster;
  }

  /** Starts (or restarts, on the same data directory) store number `index`. */
  async startStore(index: number, overrides: Partial<StoreServerOptions> = {}): Promise<RunningStore> {
    const store = await startStore(
      storeOptionsWithDefaults({
        dataDir: this.dataDirs[index]!,
        listenAddress: "127.0.0.1:0",
        statusListenAddress: "127.0.0.1:0",
        pdEndpoints: [this.pd.clientUrl],
        storeHeartbeatIntervalMs: 500,
        regionHeartbeatIntervalMs: 1_000,
        raftstore: { ...defaultRaftstoreConfig(), raftLogGcTickMs: 1_000, splitCheckTickMs: 1_000 },
        leaderTransferTimeoutMs: 5_000,
        logger: createLogger({ component: "tikv-store", level: testLogLevel() }),
        ...overrides,
      }),
    );
    this.stores.set(index, store);
    return store;
  }

  async stopStore(index: number): Promise<void> {
    const store = this.stores.get(index);
    this.stores.delete(index);
    await store?.close();
  }

  storeIndexOf(storeId: bigint): number | undefined {
    for (const [index, store] of this.stores) if (store.storeId === storeId) return index;
    return undefined;
  }

  async close(): Promise<void> {
    this.client.close();
    for (const index of [...this.stores.keys()]) await this.stopStore(index);
    await this.pdClient.close();
    await this.pd.close();
    rmSync(this.root, { recursive: true, force: true });
  }
}
