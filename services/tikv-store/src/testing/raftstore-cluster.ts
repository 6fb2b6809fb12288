/**
 * Several Store instances in one process, on real RocksDB in temporary directories, joined by the local
 * transport hub and a fake pd: the raftstore's own cluster harness. A small client routes requests by
 * key to the current leader and retries region errors, like a real client would.
 *
 *   const cluster = await TestCluster.start({ storeCount: 3 });
 *   try { await cluster.put("k", "v"); assert.equal(await cluster.get("k"), "v"); }
 *   finally { await cluster.close(); }
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Registry } from "prom-client";
import { createLogger, type LogLevel, MetricFactory } from "#observability";
import { metapb } from "#proto";
import { SeededRandom, sleep, systemClock } from "#runtime";
import { rawGet } from "../engine/kv-engine.ts";
import type { CasRequest, CasResult, PeerChange } from "../raftstore/raft-command.ts";
import { defaultRaftstoreConfig, type RaftstoreConfig } from "../raftstore/raftstore-config.ts";
import type { RegionReader } from "../raftstore/read-path.ts";
import { RegionError } from "../raftstore/region-errors.ts";
import { epochOf, findPeerOnStore, keyInRegion } from "../raftstore/region-meta.ts";
import { type RequestContext, Store, UnsafePeerChangeError } from "../raftstore/store.ts";
import type { TurnScheduler } from "../raftstore/store-loop.ts";
import { FakePd } from "./fake-pd.ts";
import { LocalTransportHub } from "./local-transport.ts";

/** Timings shrunk for tests: 10 ms ticks (elections within 100-200 ms), frequent log GC and split checks. */
export const FAST_TEST_CONFIG: Partial<RaftstoreConfig> = {
  baseTickMs: 10,
  heartbeatTicks: 2,
  electionTicks: 10,
  raftLogGcTickMs: 100,
  splitCheckTickMs: 100,
  readIndexTimeoutMs: 2_000,
  snapshotTimeToLiveMs: 5_000,
  maxLeaderMissingMs: 2_000,
};

export interface TestClusterOptions {
  readonly storeCount: number;
  /** Stores holding a peer of region 1 from the start (default: every store). */
  readonly initialStores?: readonly bigint[];
  readonly config?: Partial<RaftstoreConfig>;
  readonly seed?: number;
  readonly logLevel?: LogLevel;
  /** Each store loop's turn scheduler (default setImmediate). */
  readonly scheduleTurn?: (storeId: bigint) => TurnScheduler;
}

/** The client found no leader (or no region) for a key yet; retried like a region error. */
export class NoRouteError extends Error {
  override readonly name = "NoRouteError";
}

export const FIRST_REGION_ID = 1n;
const RETRY_PAUSE_MS = 10;
const DEFAULT_TIMEOUT_MS = 15_000;

export const text = (value: string): Uint8Array => new TextEncoder().encode(value);
export const asText = (value: Uint8Array | undefined): string | undefined =>
  value === undefined ? undefined : new TextDecoder().decode(value);

export interface Route {
  readonly store: Store;
  readonly region: metapb.Region;
  readonly context: RequestContext;
}

export class TestCluster {
  readonly hub: LocalTransportHub;
  readonly pd = new FakePd();
  readonly config: RaftstoreConfig;
  readonly fatalErrors: Error[] = [];
  private readonly stores = new Map<bigint, Store>();
  /** Each running store's metrics registry (a restarted store starts a fresh one). */
  private readonly registries = new Map<bigint, Registry>();
  private readonly directories = new Map<bigint, string>();
  private readonly logger;

  private constructor(private readonly options: TestClusterOptions) {
    this.hub = new LocalTransportHub(new SeededRandom(options.seed ?? 1));
    this.config = { ...defaultRaftstoreConfig(), ...FAST_TEST_CONFIG, ...options.config };
    this.logger = createLogger({
      component: "tikv-store",
      level: options.logLevel ?? (process.env.TEST_LOG_LEVEL as LogLevel | undefined) ?? "silent",
    });
  }

  static async start(options: TestClusterOptions): Promise<TestCluster> {
    const cluster = new TestCluster(options);
    try {
      await cluster.bootstrap();
    } catch (error) {
      await cluster.close();
      throw error;
    }
    return cluster;
  }

  get storeIds(): bigint[] {
    return Array.from({ length: this.options.storeCount }, (_, index) => BigInt(index + 1));
  }

  store(storeId: bigint): Store {
    const store = this.stores.get(storeId);
    if (store === undefined) throw new Error(`store ${storeId} is not running`);
    return store;
  }

  isRunning(storeId: bigint): boolean {
    return this.stores.has(storeId);
  }

  /** The store's raftstore metrics, named `s<storeId>_raftstore_*`. */
  metrics(storeId: bigint): Registry {
    return this.registries.get(storeId)!;
  }

  dataDirectory(storeId: bigint): string {
    return this.directories.get(storeId)!;
  }

  private async bootstrap(): Promise<void> {
    for (const storeId of this.storeIds) {
      this.directories.set(storeId, mkdtempSync(join(tmpdir(), `tessera-raftstore-${storeId}-`)));
      await this.startStore(storeId);
    }
    const initial = this.options.initialStores ?? this.storeIds;
    const region = metapb.Region.fromPartial({
      id: FIRST_REGION_ID,
      regionEpoch: { confVer: 1n, version: 1n },
      peers: initial.map((storeId) => ({ id: this.pd.allocId(), storeId })),
    });
    this.pd.observe(region);
    for (const storeId of initial) await this.store(storeId).bootstrapFirstRegion(region);
  }

  async startStore(storeId: bigint): Promise<Store> {
    const registry = new Registry();
    this.registries.set(storeId, registry);
    const store = await Store.open({
      dataDirectory: this.dataDirectory(storeId),
      metricFactory: new MetricFactory(registry, `s${storeId}`),
      clusterId: 1n,
      storeId,
      transport: this.hub.transportFor(storeId),
      pd: this.pd,
      logger: this.logger,
      config: this.config,
      clock: systemClock,
      random: new SeededRandom((this.options.seed ?? 1) * 100 + Number(storeId)),
      observer: { regionChanged: (regionId) => this.reportRegion(storeId, regionId) },
      onFatal: (error) => this.fatalErrors.push(error),
      ...(this.options.scheduleTurn !== undefined && { scheduleTurn: this.options.scheduleTurn(storeId) }),
    });
    this.stores.set(storeId, store);
    this.hub.attach(storeId, store);
    return store;
  }

  /** Stops the store as a crash would: its volatile state is gone, its disk stays. */
  async stopStore(storeId: bigint): Promise<void> {
    const store = this.store(storeId);
    this.hub.detach(storeId);
    this.stores.delete(storeId);
    await store.close();
  }

  async restartStore(storeId: bigint): Promise<Store> {
    if (this.stores.has(storeId)) await this.stopStore(storeId);
    return this.startStore(storeId);
  }

  async close(): Promise<void> {
    for (const storeId of [...this.stores.keys()]) await this.stopStore(storeId);
    for (const directory of this.directories.values()) rmSync(directory, { recursive: true, force: true });
    if (this.fatalErrors.length > 0) {
      throw new AggregateError(this.fatalErrors, `a store failed: ${this.fatalErrors[0]!.message}`);
    }
  }

  private reportRegion(storeId: bigint, regionId: bigint): void {
    const info = this.stores.get(storeId)?.regionHeartbeat(regionId);
    if (info !== undefined) this.pd.observe(info.region);
  }

  // ---- routing ---------------------------------------------------------------------------------------------

  /** The newest region any running store holds that contains `key`. */
  regionFor(key: Uint8Array): metapb.Region | undefined {
    let best: metapb.Region | undefined;
    for (const store of this.stores.values()) {
      for (const { regionId } of store.peers()) {
        const region = store.region(regionId);
        if (region === undefined || !keyInRegion(key, region)) continue;
        if (best === undefined || newer(region, best)) best = region;
      }
    }
    return best;
  }

  /** The store whose peer of the region currently leads, if any. */
  leaderStore(regionId: bigint): Store | undefined {
    for (const store of this.stores.values()) {
      if (store.peers().some((peer) => peer.regionId === regionId && peer.isLeader)) return store;
    }
    return undefined;
  }

  route(key: Uint8Array): Route {
    const region = this.regionFor(key);
    if (region === undefined) throw new NoRouteError(`no region holds ${asText(key)}`);
    return this.routeRegion(region.id);
  }

  routeRegion(regionId: bigint): Route {
    const store = this.leaderStore(regionId);
    const region = store?.region(regionId);
    if (store === undefined || region === undefined)
      throw new NoRouteError(`region ${regionId} has no leader`);
    const peer = findPeerOnStore(region, store.storeId);
    return { store, region, context: { regionId, regionEpoch: region.regionEpoch, peer } };
  }

  // ---- client ----------------------------------------------------------------------------------------------

  /** Runs `operation` until it succeeds, retrying region errors and missing routes until the deadline. */
  async retry<T>(
    description: string,
    operation: () => Promise<T>,
    timeoutMs = DEFAULT_TIMEOUT_MS,
  ): Promise<T> {
    const deadline = systemClock.monotonicMs() + timeoutMs;
    let lastError: unknown;
    for (;;) {
      try {
        return await operation();
      } catch (error) {
        const transient =
          error instanceof RegionError ||
          error instanceof NoRouteError ||
          error instanceof UnsafePeerChangeError;
        if (!transient) throw error;
        lastError = error;
      }
      if (systemClock.monotonicMs() >= deadline) {
        throw new Error(`${description} did not succeed within ${timeoutMs} ms: ${String(lastError)}`);
      }
      await sleep(RETRY_PAUSE_MS);
    }
  }

  put(key: string, value: string): Promise<void> {
    return this.retry(`put ${key}`, async () => {
      const route = this.route(text(key));
      await route.store.write(route.context, [{ type: "put", key: text(key), value: text(value) }]);
    });
  }

  delete(key: string): Promise<void> {
    return this.retry(`delete ${key}`, async () => {
      const route = this.route(text(key));
      await route.store.write(route.context, [{ type: "delete", key: text(key) }]);
    });
  }

  compareAndSwap(request: CasRequest): Promise<CasResult> {
    return this.retry("compare-and-swap", async () => {
      const route = this.route(request.key);
      return route.store.compareAndSwap(route.context, request);
    });
  }

  /** A linearizable read through the leader. */
  get(key: string): Promise<string | undefined> {
    return this.retry(`get ${key}`, async () => {
      const route = this.route(text(key));
      return asText(
        await route.store.read(route.context, { kind: "keys", keys: [text(key)] }, (reader) =>
          reader.get(text(key)),
        ),
      );
    });
  }

  /** Reads the key straight from one store's kv engine, whatever its role (to check replication). */
  async localGet(storeId: bigint, key: string): Promise<string | undefined> {
    const store = this.store(storeId);
    const region = store
      .peers()
      .map(({ regionId }) => store.region(regionId))
      .find((candidate) => candidate !== undefined && keyInRegion(text(key), candidate));
    if (region === undefined) return undefined;
    return asText(await store.readLocal(region.id, (reader: RegionReader) => reader.get(text(key))));
  }

  /** The raw value in one store's kv engine, whichever region (if any) owns the key there. */
  async engineGet(storeId: bigint, key: string): Promise<string | undefined> {
    return asText(await rawGet(this.store(storeId).engines.kvEngine.db, text(key)));
  }

  // ---- admin -----------------------------------------------------------------------------------------------

  async waitFor(
    description: string,
    condition: () => boolean | Promise<boolean>,
    timeoutMs = DEFAULT_TIMEOUT_MS,
  ): Promise<void> {
    const deadline = systemClock.monotonicMs() + timeoutMs;
    while (!(await condition())) {
      if (systemClock.monotonicMs() >= deadline) throw new Error(`timed out waiting for ${description}`);
      await sleep(RETRY_PAUSE_MS);
    }
  }

  async waitForLeader(regionId: bigint, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<Store> {
    await this.waitFor(
      `a leader of region ${regionId}`,
      () => this.leaderStore(regionId) !== undefined,
      timeoutMs,
    );
    return this.leaderStore(regionId)!;
  }

  changePeer(regionId: bigint, change: PeerChange): Promise<metapb.Region> {
    return this.retry(`${change.type} peer ${change.peer.id}`, async () =>
      this.routeRegion(regionId).store.changePeer(regionId, change),
    );
  }

  /**
   * Adds a voter on `storeId` the way pd does: as a learner first, promoted once it caught up (holds the
   * region's data), so the new voter cannot leave the region short of a quorum.
   */
  async addPeer(regionId: bigint, storeId: bigint, peerId: bigint = this.pd.allocId()): Promise<metapb.Peer> {
    const learner = { id: peerId, storeId, role: metapb.PeerRole.LEARNER };
    await this.changePeer(regionId, { type: "add-learner", peer: learner });
    await this.waitFor(`the learner on store ${storeId} to catch up`, () => {
      const region = this.stores.get(storeId)?.region(regionId);
      return region !== undefined && findPeerOnStore(region, storeId)?.id === peerId;
    });
    await this.changePeer(regionId, { type: "promote", peer: { ...learner, role: metapb.PeerRole.VOTER } });
    return { ...learner, role: metapb.PeerRole.VOTER };
  }

  async removePeer(regionId: bigint, peer: metapb.Peer): Promise<metapb.Region> {
    return this.changePeer(regionId, { type: "remove", peer });
  }

  async transferLeader(regionId: bigint, storeId: bigint, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<void> {
    const deadline = systemClock.monotonicMs() + timeoutMs;
    const electionMs = this.config.baseTickMs * this.config.electionTicks;
    while (this.leaderStore(regionId)?.storeId !== storeId) {
      if (systemClock.monotonicMs() >= deadline) {
        throw new Error(`leadership of region ${regionId} did not move to store ${storeId}`);
      }
      const leader = this.leaderStore(regionId);
      const region = leader?.region(regionId);
      const target = region && findPeerOnStore(region, storeId);
      if (leader !== undefined && target !== undefined) leader.transferLeader(regionId, target);
      await this.waitFor(
        "the transfer",
        () => this.leaderStore(regionId)?.storeId === storeId,
        electionMs,
      ).catch(() => undefined);
    }
  }

  split(key: string): Promise<metapb.Region[]> {
    return this.retry(`split at ${key}`, async () => {
      const route = this.route(text(key));
      return route.store.splitRegion(route.region.id, [text(key)]);
    });
  }
}

function newer(region: metapb.Region, than: metapb.Region): boolean {
  const a = epochOf(region);
  const b = epochOf(than);
  return a.version > b.version || (a.version === b.version && a.confVer > b.confVer);
}
