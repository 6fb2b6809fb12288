/**
 * Store instances in this process on real RocksDB, joined by the local transport hub and a fake pd: the
 * stores are the raftstore alone (no gRPC, no pd worker), so every message and every region change is
 * within a test's reach and a cluster starts in milliseconds. Store `index` has id `index + 1`.
 */
import { Registry } from "prom-client";
import { MetricFactory } from "#observability";
import { metapb } from "#proto";
import { SeededRandom, systemClock } from "#runtime";
import { Store } from "../../raftstore/store.ts";
import type { TurnScheduler } from "../../raftstore/store-loop.ts";
import { type ClusterNodes, type NodeSettings, storeDirectory } from "./cluster-nodes.ts";
import { FakePd } from "./fake-pd.ts";
import { LocalTransportHub } from "./local-transport.ts";

/** The id the local bootstrap gives the first region (over gRPC, pd allocates it). */
const FIRST_REGION_ID = 1n;

export interface LocalNodeSettings extends NodeSettings {
  /** Each store loop's turn scheduler (default setImmediate). */
  readonly scheduleTurn?: ((storeId: bigint) => TurnScheduler) | undefined;
}

export class LocalNodes implements ClusterNodes {
  readonly pd = new FakePd();
  private readonly hub: LocalTransportHub;
  private readonly running = new Map<number, { readonly store: Store; readonly metrics: Registry }>();

  constructor(private readonly settings: LocalNodeSettings) {
    this.hub = new LocalTransportHub(settings.faults);
  }

  async startAll(replicas: number): Promise<void> {
    for (let index = 0; index < this.settings.stores; index++) await this.start(index);
    const region = metapb.Region.fromPartial({
      id: FIRST_REGION_ID,
      regionEpoch: { confVer: 1n, version: 1n },
      peers: Array.from({ length: replicas }, (_, index) => ({
        id: this.pd.allocId(),
        storeId: this.storeId(index),
      })),
    });
    this.pd.observe(region);
    for (let index = 0; index < replicas; index++)
      await this.running.get(index)!.store.bootstrapFirstRegion(region);
  }

  async start(index: number): Promise<Store> {
    const storeId = this.storeId(index);
    const metrics = new Registry();
    const { scheduleTurn } = this.settings;
    const store = await Store.open({
      dataDirectory: storeDirectory(this.settings.root, index),
      metricFactory: new MetricFactory(metrics, "store"),
      clusterId: 1n,
      storeId,
      transport: this.hub.transportFor(storeId),
      pd: this.pd,
      logger: this.settings.logger,
      config: this.settings.raftstore,
      clock: systemClock,
      random: new SeededRandom(this.settings.seed * 100 + Number(storeId)),
      // What a pd worker would report: the fake pd keeps every region's newest meta.
      observer: { regionChanged: (regionId) => this.reportRegion(index, regionId) },
      onFatal: this.settings.onFatal,
      ...(scheduleTurn !== undefined && { scheduleTurn: scheduleTurn(storeId) }),
    });
    this.running.set(index, { store, metrics });
    this.hub.attach(storeId, store);
    return store;
  }

  async stop(index: number): Promise<void> {
    const running = this.running.get(index);
    if (running === undefined) return;
    this.hub.detach(running.store.storeId);
    this.running.delete(index);
    await running.store.close();
  }

  store(index: number): Store | undefined {
    return this.running.get(index)?.store;
  }

  storeId(index: number): bigint {
    if (!(Number.isInteger(index) && index >= 0 && index < this.settings.stores)) {
      throw new RangeError(`store ${index} is not in this cluster of ${this.settings.stores}`);
    }
    return BigInt(index + 1);
  }

  metrics(index: number): Registry {
    const running = this.running.get(index);
    if (running === undefined) throw new Error(`store ${index} is not running`);
    return running.metrics;
  }

  async allocId(): Promise<bigint> {
    return this.pd.allocId();
  }

  async regions(): Promise<metapb.Region[]> {
    return this.pd.regions();
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.running.keys()].map((index) => this.stop(index)));
    this.hub.close();
  }

  private reportRegion(index: number, regionId: bigint): void {
    const info = this.running.get(index)?.store.regionHeartbeat(regionId);
    if (info !== undefined) this.pd.observe(info.region);
  }
}
