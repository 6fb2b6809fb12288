/**
 * A real pd (embedded backend) and the stores' whole servers in this process on 127.0.0.1 with free
 * ports: every raft message crosses real gRPC, regions reach pd through the stores' heartbeats, and pd's
 * operators drive real conf changes. Store ids are pd's, fixed at a store's first start.
 */
import { join } from "node:path";
import type { Registry } from "prom-client";
import { PdClient } from "#client";
import type { metapb } from "#proto";
import type { ScheduleConfig } from "../../../../pd/src/schedule/index.ts";
import { pdOptionsWithDefaults, type RunningPd } from "../../../../pd/src/server/pd-server.ts";
import type { Store } from "../../raftstore/store.ts";
import {
  type RunningStore,
  type StoreServerOptions,
  startStore,
  storeOptionsWithDefaults,
} from "../../server/store-server.ts";
import { startTestPd } from "../in-process-pd.ts";
import { type ClusterNodes, type NodeSettings, storeDirectory } from "./cluster-nodes.ts";

/** No automatic replica repair or balancing: tests decide membership and leadership. */
const QUIET_SCHEDULE: Partial<ScheduleConfig> = {
  replicaScheduleLimit: 0,
  leaderScheduleLimit: 0,
  regionScheduleLimit: 0,
};

export interface GrpcNodeSettings extends NodeSettings {
  /** pd's max replicas. */
  readonly replicas: number;
  /** Store server settings (limits, heartbeat intervals …) over the harness defaults. */
  readonly store: Partial<StoreServerOptions>;
  /** pd scheduling over QUIET_SCHEDULE. */
  readonly schedule: Partial<ScheduleConfig>;
}

export class GrpcNodes implements ClusterNodes {
  private readonly running: Array<RunningStore | undefined> = [];
  private readonly ids: bigint[] = [];

  private constructor(
    private readonly settings: GrpcNodeSettings,
    readonly pd: RunningPd,
    readonly pdClient: PdClient,
  ) {}

  static async create(settings: GrpcNodeSettings): Promise<GrpcNodes> {
    const pd = await startTestPd(join(settings.root, "pd"), {
      scheduleIntervalMs: 100,
      schedule: {
        ...pdOptionsWithDefaults({}).schedule,
        maxReplicas: settings.replicas,
        ...QUIET_SCHEDULE,
        ...settings.schedule,
      },
    });
    try {
      return new GrpcNodes(settings, pd, await PdClient.connect({ endpoints: [pd.clientUrl] }));
    } catch (error) {
      await pd.close();
      throw error;
    }
  }

  async startAll(): Promise<void> {
    // The first store alone, so it is the one that bootstraps region 1; the others may start together.
    await this.start(0);
    await Promise.all(
      Array.from({ length: this.settings.stores - 1 }, (_, offset) => this.start(offset + 1)),
    );
  }

  async start(index: number): Promise<Store> {
    const known = this.ids[index];
    // Reachable from its first moment, as a restarted process would be.
    if (known !== undefined) this.settings.faults.markUp(known);
    const running = await startStore(
      storeOptionsWithDefaults({
        dataDir: storeDirectory(this.settings.root, index),
        listenAddress: "127.0.0.1:0",
        statusListenAddress: "127.0.0.1:0",
        pdEndpoints: [this.pd.clientUrl],
        storeHeartbeatIntervalMs: 300,
        regionHeartbeatIntervalMs: 300,
        raftReconnectBackoff: { baseMs: 20, capMs: 300 },
        raftstore: this.settings.raftstore,
        // `stop` is a crash: no leader hand-over first.
        leaderTransferTimeoutMs: 0,
        logger: this.settings.logger,
        onFatal: this.settings.onFatal,
        ...this.settings.store,
      }),
    );
    this.running[index] = running;
    this.ids[index] = running.storeId;
    running.transport.addFilter(this.settings.faults);
    return running.store;
  }

  /**
   * A crash by default: the store's raft traffic is cut first (so nothing it does while closing reaches
   * the others), then it closes; pd still hears "stopping" from it, which a restart clears. A store whose
   * settings give it time to hand its leaders over shuts down gracefully instead, and loses its links
   * after. In one process a close cannot lose unsynced writes the way SIGKILL can;
   * tests/cluster/store/crash-durability.test.ts kills real processes for that.
   */
  async stop(index: number): Promise<void> {
    const running = this.running[index];
    if (running === undefined) return;
    this.running[index] = undefined;
    const graceful = (this.settings.store.leaderTransferTimeoutMs ?? 0) > 0;
    if (!graceful) this.settings.faults.markDown(running.storeId);
    await running.close();
    this.settings.faults.markDown(running.storeId);
  }

  store(index: number): Store | undefined {
    return this.running[index]?.store;
  }

  /** The whole server of store `index` (addresses, raft transport), if it runs. */
  server(index: number): RunningStore | undefined {
    return this.running[index];
  }

  storeId(index: number): bigint {
    const id = this.ids[index];
    if (id === undefined) throw new RangeError(`store ${index} was never started`);
    return id;
  }

  metrics(index: number): Registry {
    const running = this.running[index];
    if (running === undefined) throw new Error(`store ${index} is not running`);
    return running.metrics;
  }

  allocId(): Promise<bigint> {
    return this.pdClient.allocId();
  }

  async regions(): Promise<metapb.Region[]> {
    const regions = await this.pdClient.scanRegions(new Uint8Array(), new Uint8Array(), 0);
    return regions.map(({ region }) => region);
  }

  async close(): Promise<void> {
    await Promise.allSettled(this.running.map((_, index) => this.stop(index)));
    await this.pdClient.close();
    await this.pd.close();
  }
}
