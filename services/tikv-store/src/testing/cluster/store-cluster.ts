/**
 * The tikv-store cluster harness (TinyKV's `test_raftstore.Cluster`): N stores in this process on real
 * RocksDB in a temporary directory, over a chosen transport — "local" (Store instances joined by an
 * in-process hub and a fake pd) or "grpc" (each store's whole server and a real pd on 127.0.0.1 with free
 * ports) — with fast ticks, one fault layer over every store's raft traffic, crash and restart, and one
 * client that routes each request to the region's leader and retries region errors.
 *
 *   const cluster = await StoreCluster.start({ label: "split basic", stores: 3 });
 *   try { await cluster.put("k", "v"); cluster.partition([[0], [1, 2]]); … cluster.heal(); }
 *   finally { await cluster.close(); }
 *
 * Stores are addressed by index (0..N-1, stable across restarts); `storeId(index)` gives the store's id.
 * Faults live in one filter every store consults, so a restarted store is born with the faults in force.
 * Over gRPC pd schedules nothing on its own (replica repair and balancing off) unless a test asks for it:
 * membership and leadership change only when the test says so, which keeps failures explainable.
 *
 * Randomness (fault choices, unreliable drops, local stores' election timeouts) comes from one seed, printed
 * unless the test fixes it; `SEED=n` replays the same choices (the interleaving with real time still varies).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type PdClient, RawKvClient } from "#client";
import { compareBytes } from "#codec";
import { createLogger, type Logger } from "#observability";
import { metapb } from "#proto";
import { type Random, SeededRandom, sleep } from "#runtime";
import { resolveSeed } from "#sim";
import type { ScheduleConfig } from "../../../../pd/src/schedule/index.ts";
import type { RunningPd } from "../../../../pd/src/server/pd-server.ts";
import { rawGet } from "../../engine/kv-engine.ts";
import type { CasRequest, CasResult, PeerChange } from "../../raftstore/raft-command.ts";
import { defaultRaftstoreConfig, type RaftstoreConfig } from "../../raftstore/raftstore-config.ts";
import { RegionError } from "../../raftstore/region-errors.ts";
import { epochOf, findPeerOnStore, keyInRegion } from "../../raftstore/region-meta.ts";
import { type RequestContext, type Store, UnsafePeerChangeError } from "../../raftstore/store.ts";
import type { TurnScheduler } from "../../raftstore/store-loop.ts";
import type { RunningStore, StoreServerOptions } from "../../server/store-server.ts";
import type { TransportFilter } from "../../server/transport-filter.ts";
import { bytes, text } from "../bytes.ts";
import { testLogLevel } from "../log-level.ts";
import { ClusterFaults } from "./cluster-faults.ts";
import {
  type ClusterNodes,
  type ClusterTransport,
  type NodeSettings,
  storeDirectory,
} from "./cluster-nodes.ts";
import type { FakePd } from "./fake-pd.ts";
import { GrpcNodes } from "./grpc-nodes.ts";
import { LocalNodes } from "./local-nodes.ts";

/** In one process a local hop takes microseconds: 10 ms ticks elect a leader within 100–200 ms. */
const LOCAL_TIMINGS: Partial<RaftstoreConfig> = {
  baseTickMs: 10,
  heartbeatTicks: 2,
  electionTicks: 10,
  raftLogGcTickMs: 100,
  splitCheckTickMs: 100,
  readIndexTimeoutMs: 2_000,
  snapshotTimeToLiveMs: 5_000,
  maxLeaderMissingMs: 2_000,
};

/** Ticks of 50 ms over gRPC: elections within 0.5–1 s, so failover is quick yet busy event loops do not churn leaders. */
const GRPC_TIMINGS: Partial<RaftstoreConfig> = {
  baseTickMs: 50,
  heartbeatTicks: 2,
  electionTicks: 10,
  raftLogGcTickMs: 200,
  splitCheckTickMs: 200,
  readIndexTimeoutMs: 2_000,
  maxLeaderMissingMs: 3_000,
  busyBackoffMs: 20,
};

export interface StoreClusterOptions {
  /** Names the printed seed line. */
  readonly label: string;
  readonly stores: number;
  /** ["local"] */
  readonly transport?: ClusterTransport;
  /** Voters of the first region once `start` returns [min(3, stores)]; they are stores 0 … replicas-1. */
  readonly replicas?: number;
  /** Raftstore settings over the transport's timings (LOCAL_TIMINGS or GRPC_TIMINGS). */
  readonly raftstore?: Partial<RaftstoreConfig>;
  /** A seed instead of SEED / a fresh one (tests that must not vary). */
  readonly seed?: number;
  /** gRPC only: store server settings (limits, heartbeat intervals …) over the harness defaults. */
  readonly store?: Partial<StoreServerOptions>;
  /** gRPC only: pd scheduling over QUIET_SCHEDULE (DEFAULT_SCHEDULE_CONFIG schedules as in production). */
  readonly schedule?: Partial<ScheduleConfig>;
  /** Local only: each store loop's turn scheduler (default setImmediate). */
  readonly scheduleTurn?: (storeId: bigint) => TurnScheduler;
}

/** Admin requests go through pd's operators or straight to the leader's Store facade. */
export type AdminPath = "pd" | "facade";

/** A region as its leader sees it, and the context that addresses a request to that leader. */
export interface RegionLeader {
  readonly index: number;
  readonly store: Store;
  readonly region: metapb.Region;
  readonly peer: metapb.Peer;
  readonly term: bigint;
  readonly context: RequestContext;
}

/** The client found no leader (or no region) for a request yet; retried like a region error. */
export class NoRouteError extends Error {
  override readonly name = "NoRouteError";
}

export class WaitTimeoutError extends Error {
  override readonly name = "WaitTimeoutError";
  constructor(
    readonly description: string,
    readonly timeoutMs: number,
    readonly lastProblem: string,
  ) {
    super(
      `timed out after ${timeoutMs} ms waiting for ${description}${lastProblem ? `: ${lastProblem}` : ""}`,
    );
  }
}

export class PdOperatorError extends Error {
  override readonly name = "PdOperatorError";
  constructor(
    readonly request: Readonly<Record<string, unknown>>,
    readonly status: number,
    readonly body: string,
  ) {
    super(`pd refused operator ${JSON.stringify(request)} with ${status}: ${body}`);
  }
}

const DEFAULT_WAIT_MS = 20_000;
/** In one process the closed instance's RocksDB lock can outlive `close` for a moment. */
const RESTART_ATTEMPTS = 20;
const RESTART_PAUSE_MS = 100;

export class StoreCluster {
  readonly seed: number;
  readonly faults: ClusterFaults;
  readonly raftstoreConfig: RaftstoreConfig;
  private readonly root: string;
  private readonly logger: Logger;
  private firstRegion: bigint | undefined;
  private rawClient: Promise<RawKvClient> | undefined;
  private closed = false;
  /** Polls every half tick: often enough to see a change within a tick, rarely enough to leave the loop time. */
  private readonly pollMs: number;
  /** How long one leader transfer or split request is given before it is asked again: two election timeouts. */
  private readonly retryAdminAfterMs: number;

  private constructor(
    private readonly options: StoreClusterOptions,
    settings: NodeSettings,
    readonly random: Random,
    private readonly nodes: ClusterNodes,
    private readonly fatalErrors: readonly Error[],
  ) {
    this.seed = settings.seed;
    this.faults = settings.faults;
    this.raftstoreConfig = settings.raftstore;
    this.root = settings.root;
    this.logger = settings.logger;
    this.pollMs = Math.max(10, this.raftstoreConfig.baseTickMs / 2);
    this.retryAdminAfterMs = 2 * this.raftstoreConfig.baseTickMs * this.raftstoreConfig.electionTicks;
  }

  /** Starts the stores (and pd over gRPC) and makes stores 0 … replicas-1 voters of the first region. */
  static async start(options: StoreClusterOptions): Promise<StoreCluster> {
    const transport = options.transport ?? "local";
    checkTransportOptions(transport, options);
    const seed = options.seed ?? resolveSeed(options.label);
    const random = new SeededRandom(seed);
    const fatalErrors: Error[] = [];
    const settings = {
      root: mkdtempSync(join(tmpdir(), "tessera-store-cluster-")),
      stores: options.stores,
      seed,
      raftstore: {
        ...defaultRaftstoreConfig(),
        ...(transport === "local" ? LOCAL_TIMINGS : GRPC_TIMINGS),
        ...options.raftstore,
      },
      faults: new ClusterFaults(random.fork()),
      logger: createLogger({ component: "tikv-store", level: testLogLevel() }),
      onFatal: (error: Error) => fatalErrors.push(error),
    };
    const replicas = options.replicas ?? Math.min(3, options.stores);
    let nodes: ClusterNodes;
    try {
      nodes =
        transport === "local"
          ? new LocalNodes({ ...settings, scheduleTurn: options.scheduleTurn })
          : await GrpcNodes.create({
              ...settings,
              replicas,
              store: options.store ?? {},
              schedule: options.schedule ?? {},
            });
    } catch (error) {
      rmSync(settings.root, { recursive: true, force: true });
      throw error;
    }
    const cluster = new StoreCluster(options, settings, random, nodes, fatalErrors);
    try {
      await cluster.bootstrap(replicas);
      return cluster;
    } catch (error) {
      await cluster.close().catch(() => undefined);
      throw error;
    }
  }

  private async bootstrap(replicas: number): Promise<void> {
    await this.nodes.startAll(replicas);
    const first = await this.waitLeaderOf(new Uint8Array());
    this.firstRegion = first.region.id;
    for (let index = 0; index < replicas; index++) {
      if (findPeerOnStore(first.region, this.storeId(index)) === undefined) {
        await this.addPeer(first.region.id, index, { via: "facade" });
      }
    }
  }

  get storeCount(): number {
    return this.options.stores;
  }

  /** Every store's index, running or not. */
  get indexes(): number[] {
    return Array.from({ length: this.options.stores }, (_, index) => index);
  }

  /** The region the cluster started with, whose range is everything. */
  get firstRegionId(): bigint {
    if (this.firstRegion === undefined) throw new Error("the cluster has not started");
    return this.firstRegion;
  }

  storeId(index: number): bigint {
    return this.nodes.storeId(index);
  }

  indexOf(storeId: bigint): number {
    const index = this.indexes.find((candidate) => this.knownStoreId(candidate) === storeId);
    if (index === undefined) throw new RangeError(`store id ${storeId} is not in this cluster`);
    return index;
  }

  isRunning(index: number): boolean {
    return this.nodes.store(index) !== undefined;
  }

  runningIndexes(): number[] {
    return this.indexes.filter((index) => this.isRunning(index));
  }

  /** The running store `index`'s raftstore. */
  store(index: number): Store {
    const store = this.nodes.store(index);
    if (store === undefined) throw new Error(`store ${index} is not running`);
    return store;
  }

  /** gRPC only: the running store `index`'s whole server (addresses, raft transport). */
  server(index: number): RunningStore {
    const server = this.grpcNodes("a store server").server(index);
    if (server === undefined) throw new Error(`store ${index} is not running`);
    return server;
  }

  /** gRPC only: the cluster's pd. */
  get pd(): RunningPd {
    return this.grpcNodes("pd").pd;
  }

  /** gRPC only: a pd client of the harness (closed with the cluster). */
  get pdClient(): PdClient {
    return this.grpcNodes("a pd client").pdClient;
  }

  /** Local only: the fake pd the stores report to. */
  get fakePd(): FakePd {
    if (!(this.nodes instanceof LocalNodes)) throw new Error("a gRPC cluster runs a real pd, not the fake");
    return this.nodes.pd;
  }

  /** The sum of a metric's samples (`store_*`, as in production) on store `index` whose labels include `labels`. */
  async counter(index: number, name: string, labels: Readonly<Record<string, string>> = {}): Promise<number> {
    const samples = (await this.nodes.metrics(index).getSingleMetric(name)?.get())?.values ?? [];
    return samples
      .filter((sample) => Object.entries(labels).every(([key, value]) => sample.labels[key] === value))
      .reduce((sum, { value }) => sum + value, 0);
  }

  dataDirectory(index: number): string {
    return storeDirectory(this.root, index);
  }

  allocId(): Promise<bigint> {
    return this.nodes.allocId();
  }

  /** gRPC only: the storage client of the tests, created on first use and closed with the cluster. */
  client(): Promise<RawKvClient> {
    this.rawClient ??= RawKvClient.connect({
      pdEndpoints: [this.pd.clientUrl],
      requestTimeoutMs: 2_000,
      backoffBudgetMs: 8_000,
      logger: this.logger,
    });
    return this.rawClient;
  }

  // ---- lifecycle -----------------------------------------------------------------------------------------

  /**
   * Crashes store `index`: it closes without handing its leaders over (unless the test's store settings
   * say otherwise), and messages to it are lost. The data directory stays for `restart`.
   */
  async stop(index: number): Promise<void> {
    this.store(index);
    await this.nodes.stop(index);
  }

  /** Starts the stopped store `index` again on its data directory (it recovers from disk and rejoins). */
  async restart(index: number): Promise<Store> {
    if (this.isRunning(index)) throw new Error(`store ${index} is already running`);
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.nodes.start(index);
      } catch (error) {
        if (attempt >= RESTART_ATTEMPTS) throw error;
        await sleep(RESTART_PAUSE_MS);
      }
    }
  }

  // ---- faults --------------------------------------------------------------------------------------------

  /**
   * Stores (by index) in different groups cannot exchange raft messages, until the returned function or
   * `heal` is called; a store in no group keeps its links.
   */
  partition(groups: readonly (readonly number[])[]): () => void {
    return this.faults.partition(groups.map((group) => group.map((index) => this.storeId(index))));
  }

  /** Cuts store `index` off from every other store. */
  isolate(index: number): () => void {
    return this.partition([[index], this.indexes.filter((other) => other !== index)]);
  }

  /** TinyKV's unreliable network: about 10% of raft messages dropped, some delayed (reordered). */
  unreliable(on: boolean): void {
    this.faults.setUnreliable(on);
  }

  /** Installs `filter` on the stores `indexes` (all by default) until removed or `heal`; survives restarts. */
  addFilter(filter: TransportFilter, indexes: readonly number[] = this.indexes): () => void {
    return this.faults.addFilter(
      filter,
      indexes.map((index) => this.storeId(index)),
    );
  }

  /** Ends partitions, the unreliable network and added filters. Crashed stores stay down. */
  heal(): void {
    this.faults.heal();
  }

  // ---- observation ---------------------------------------------------------------------------------------

  /** The leader of the region holding `key` among the running stores (highest term wins), if any. */
  leaderOf(key: Uint8Array): RegionLeader | undefined {
    return this.findLeader((region) => keyInRegion(key, region));
  }

  leaderOfRegion(regionId: bigint): RegionLeader | undefined {
    return this.findLeader((region) => region.id === regionId);
  }

  waitLeaderOf(key: Uint8Array, timeoutMs = DEFAULT_WAIT_MS): Promise<RegionLeader> {
    return this.waitForValue(
      `a leader of the region holding ${hex(key)}`,
      () => this.leaderOf(key),
      timeoutMs,
    );
  }

  waitLeaderOfRegion(regionId: bigint, timeoutMs = DEFAULT_WAIT_MS): Promise<RegionLeader> {
    return this.waitForValue(
      `a leader of region ${regionId}`,
      () => this.leaderOfRegion(regionId),
      timeoutMs,
    );
  }

  /** The newest meta (by epoch) any running store holds of a region containing `key`, led or not. */
  regionFor(key: Uint8Array): metapb.Region | undefined {
    return this.newestRegion((region) => keyInRegion(key, region));
  }

  private findLeader(matches: (region: metapb.Region) => boolean): RegionLeader | undefined {
    let best: RegionLeader | undefined;
    for (const index of this.runningIndexes()) {
      const store = this.store(index);
      for (const { regionId, isLeader } of store.peers()) {
        if (!isLeader) continue;
        const heartbeat = store.regionHeartbeat(regionId);
        if (heartbeat === undefined || !matches(heartbeat.region)) continue;
        if (best === undefined || heartbeat.term > best.term) {
          const { region, leader: peer, term } = heartbeat;
          const context = { regionId, regionEpoch: region.regionEpoch, peer };
          best = { index, store, region, peer, term, context };
        }
      }
    }
    return best;
  }

  /** Every region pd knows, in key order. */
  regions(): Promise<metapb.Region[]> {
    return this.nodes.regions();
  }

  /** One line per running store and region: who holds what, for failure messages. */
  describe(): string {
    const lines: string[] = [];
    for (const index of this.runningIndexes()) {
      const store = this.store(index);
      for (const { regionId, peerId, isLeader } of store.peers()) {
        const region = store.region(regionId);
        const epoch = region?.regionEpoch;
        lines.push(
          `store ${index} (id ${store.storeId}) region ${regionId} peer ${peerId}${isLeader ? " LEADER" : ""} ` +
            (region === undefined
              ? "uninitialized"
              : `[${hex(region.startKey)}, ${hex(region.endKey)}) conf_ver ${epoch?.confVer} version ${epoch?.version} peers ${region.peers.map((peer) => `${peer.id}@${this.indexOfOrUnknown(peer.storeId)}${peer.role === metapb.PeerRole.LEARNER ? "L" : ""}`).join(",")}`),
        );
      }
    }
    const down = this.indexes.filter((index) => !this.isRunning(index));
    return `${lines.join("\n")}${down.length > 0 ? `\ndown: ${down.join(",")}` : ""}\nfaults: ${this.faults.describe()}`;
  }

  /** Polls `predicate` until it holds; a throw counts as "not yet" and is reported on timeout. */
  async waitFor(
    description: string,
    predicate: () => boolean | Promise<boolean>,
    timeoutMs = DEFAULT_WAIT_MS,
  ): Promise<void> {
    await this.waitForValue(description, async () => ((await predicate()) ? true : undefined), timeoutMs);
  }

  async waitForValue<T>(
    description: string,
    probe: () => T | undefined | Promise<T | undefined>,
    timeoutMs = DEFAULT_WAIT_MS,
  ): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    let lastProblem = "";
    for (;;) {
      try {
        const value = await probe();
        if (value !== undefined) return value;
        lastProblem = "";
      } catch (error) {
        lastProblem = error instanceof Error ? error.message : String(error);
      }
      if (Date.now() >= deadline) {
        throw new WaitTimeoutError(description, timeoutMs, `${lastProblem}\n${this.describe()}`);
      }
      await sleep(this.pollMs);
    }
  }

  // ---- client --------------------------------------------------------------------------------------------

  /** The leader serving `key`; throws NoRouteError (retried by `retry`) while there is none. */
  route(key: Uint8Array): RegionLeader {
    const leader = this.leaderOf(key);
    if (leader === undefined) throw new NoRouteError(`no leader serves ${hex(key)}`);
    return leader;
  }

  /** The leader of `regionId`; throws NoRouteError (retried by `retry`) while there is none. */
  routeRegion(regionId: bigint): RegionLeader {
    const leader = this.leaderOfRegion(regionId);
    if (leader === undefined) throw new NoRouteError(`region ${regionId} has no leader`);
    return leader;
  }

  /** Runs `operation` until it succeeds, retrying region errors and missing routes until the deadline. */
  async retry<T>(description: string, operation: () => Promise<T>, timeoutMs = DEFAULT_WAIT_MS): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        return await operation();
      } catch (error) {
        const transient =
          error instanceof RegionError ||
          error instanceof NoRouteError ||
          error instanceof UnsafePeerChangeError;
        if (!transient) throw error;
        if (Date.now() >= deadline) {
          throw new Error(`${description} did not succeed within ${timeoutMs} ms`, { cause: error });
        }
      }
      await sleep(this.pollMs);
    }
  }

  put(key: string, value: string): Promise<void> {
    return this.retry(`put ${key}`, async () => {
      const { store, context } = this.route(bytes(key));
      await store.write(context, [{ type: "put", key: bytes(key), value: bytes(value) }]);
    });
  }

  delete(key: string): Promise<void> {
    return this.retry(`delete ${key}`, async () => {
      const { store, context } = this.route(bytes(key));
      await store.write(context, [{ type: "delete", key: bytes(key) }]);
    });
  }

  compareAndSwap(request: CasRequest): Promise<CasResult> {
    return this.retry("compare-and-swap", async () => {
      const { store, context } = this.route(request.key);
      return store.compareAndSwap(context, request);
    });
  }

  /** A linearizable read through the leader. */
  get(key: string): Promise<string | undefined> {
    return this.retry(`get ${key}`, async () => {
      const { store, context } = this.route(bytes(key));
      return text(
        await store.read(context, { kind: "keys", keys: [bytes(key)] }, (reader) => reader.get(bytes(key))),
      );
    });
  }

  /** The key as store `index`'s peer of the region holding it has applied it, whatever the peer's role. */
  async localGet(index: number, key: string): Promise<string | undefined> {
    const store = this.store(index);
    const region = store
      .peers()
      .map(({ regionId }) => store.region(regionId))
      .find((candidate) => candidate !== undefined && keyInRegion(bytes(key), candidate));
    if (region === undefined) return undefined;
    return text(await store.readLocal(region.id, (reader) => reader.get(bytes(key))));
  }

  /** The raw value in store `index`'s kv engine, whichever region (if any) owns the key there. */
  async engineGet(index: number, key: string): Promise<string | undefined> {
    return text(await rawGet(this.store(index).engines.kvEngine.db, bytes(key)));
  }

  // ---- admin ---------------------------------------------------------------------------------------------

  /** Proposes `change` on the region's leader, following the leader until it is accepted. */
  changePeer(regionId: bigint, change: PeerChange): Promise<metapb.Region> {
    return this.retry(`${change.type} peer ${change.peer.id}`, async () =>
      this.routeRegion(regionId).store.changePeer(regionId, change),
    );
  }

  /**
   * Adds a voter of `regionId` on store `index` and waits until the leader counts it as a voter and the
   * new peer holds the region. Through pd's add-peer operator (pd picks the peer id) or straight through
   * the leader's Store facade — a learner first, promoted once it caught up, so the new voter cannot leave
   * the region short of a quorum — where `peerId` may reuse an old id. The default path is pd's when the
   * cluster runs one.
   */
  async addPeer(
    regionId: bigint,
    index: number,
    options: { readonly via?: AdminPath; readonly peerId?: bigint } = {},
  ): Promise<metapb.Peer> {
    const storeId = this.storeId(index);
    if (this.adminPath(options.via) === "pd") {
      if (options.peerId !== undefined) throw new RangeError("pd allocates the peer id itself");
      await this.pdOperator({ name: "add-peer", region_id: String(regionId), store_id: String(storeId) });
    } else {
      const peerId = options.peerId ?? (await this.allocId());
      const learner = metapb.Peer.fromPartial({ id: peerId, storeId, role: metapb.PeerRole.LEARNER });
      // Each step is skipped once the leader's region shows it: an attempt whose outcome was unknown
      // (a leader change while it was proposed) may have been applied.
      await this.retry(`add learner ${peerId} on store ${index}`, async () => {
        const { store, region } = this.routeRegion(regionId);
        if (findPeerOnStore(region, storeId)?.id === peerId) return;
        await store.changePeer(regionId, { type: "add-learner", peer: learner });
      });
      // A learner that has not caught up makes its promotion unsafe for a moment: retried, as pd does.
      await this.retry(`promote ${peerId} on store ${index}`, async () => {
        const { store, region } = this.routeRegion(regionId);
        if (findPeerOnStore(region, storeId)?.role === metapb.PeerRole.VOTER) return;
        await store.changePeer(regionId, {
          type: "promote",
          peer: { ...learner, role: metapb.PeerRole.VOTER },
        });
      });
    }
    return this.waitForValue(`a voter of region ${regionId} on store ${index}`, () => {
      const leader = this.leaderOfRegion(regionId);
      const peer = leader && findPeerOnStore(leader.region, storeId);
      if (peer === undefined || peer.role !== metapb.PeerRole.VOTER) return undefined;
      return this.isRunning(index) && this.store(index).region(regionId) !== undefined ? peer : undefined;
    });
  }

  /**
   * Removes the peer of `regionId` on store `index`; waits until the leader's region no longer has it
   * and returns that region.
   */
  async removePeer(
    regionId: bigint,
    index: number,
    options: { readonly via?: AdminPath } = {},
  ): Promise<metapb.Region> {
    const storeId = this.storeId(index);
    if (this.adminPath(options.via) === "pd") {
      await this.pdOperator({ name: "remove-peer", region_id: String(regionId), store_id: String(storeId) });
    } else {
      await this.retry(`remove the peer of region ${regionId} on store ${index}`, async () => {
        const { store, region } = this.routeRegion(regionId);
        const peer = findPeerOnStore(region, storeId);
        if (peer !== undefined) await store.changePeer(regionId, { type: "remove", peer });
      });
    }
    return this.waitForValue(`region ${regionId} to lose its peer on store ${index}`, () => {
      const leader = this.leaderOfRegion(regionId);
      return leader !== undefined && findPeerOnStore(leader.region, storeId) === undefined
        ? leader.region
        : undefined;
    });
  }

  /** Moves the leadership of `regionId` to store `index` and waits until that store leads it. */
  async transferLeader(
    regionId: bigint,
    index: number,
    options: { readonly via?: AdminPath; readonly timeoutMs?: number } = {},
  ): Promise<void> {
    const storeId = this.storeId(index);
    const led = (): boolean => this.leaderOfRegion(regionId)?.index === index;
    if (led()) return;
    const via = this.adminPath(options.via);
    const ask = async (): Promise<void> => {
      const leader = this.leaderOfRegion(regionId);
      const peer = leader && findPeerOnStore(leader.region, storeId);
      if (leader === undefined || peer === undefined) return;
      if (via === "pd") {
        await this.pdOperator({
          name: "transfer-leader",
          region_id: String(regionId),
          to_store_id: String(storeId),
        });
      } else {
        leader.store.transferLeader(regionId, peer);
      }
    };
    // A transfer can be refused (the target lags) or lost to an election: ask until it happens.
    await this.waitFor(
      `store ${index} to lead region ${regionId}`,
      async () => {
        if (led()) return true;
        await ask();
        await this.waitFor(`the transfer to store ${index}`, led, this.retryAdminAfterMs).catch(
          () => undefined,
        );
        return led();
      },
      options.timeoutMs,
    );
  }

  /**
   * Splits the region holding `splitKey` at it, through the leader's Store facade or pd's split-region
   * operator, asking again while it has not happened (pd's view of the region may be stale, the leader may
   * move); waits until a leader serves the region starting at `splitKey`, and returns the two halves.
   */
  async split(
    splitKey: Uint8Array,
    options: { readonly via?: AdminPath } = {},
  ): Promise<[left: metapb.Region, right: metapb.Region]> {
    const right = (): metapb.Region | undefined => {
      const current = this.leaderOf(splitKey);
      return current !== undefined && compareBytes(current.region.startKey, splitKey) === 0
        ? current.region
        : undefined;
    };
    const via = this.adminPath(options.via);
    const ask = async (leader: RegionLeader): Promise<void> => {
      if (via === "facade") {
        await leader.store.splitRegion(leader.region.id, [splitKey]);
        return;
      }
      await this.pdOperator(
        {
          name: "split-region",
          region_id: String(leader.region.id),
          policy: "use-key",
          keys: [Buffer.from(splitKey).toString("hex")],
        },
        0,
      );
    };
    const rightHalf = await this.waitForValue(`a region starting at ${hex(splitKey)}`, async () => {
      const leader = this.leaderOf(splitKey);
      if (right() !== undefined || leader === undefined) return right();
      await ask(leader);
      await this.waitFor("the split", () => right() !== undefined, this.retryAdminAfterMs).catch(
        () => undefined,
      );
      return right();
    });
    const leftHalf = this.newestRegion((region) => compareBytes(region.endKey, splitKey) === 0);
    if (leftHalf === undefined) throw new Error(`no store holds the region ending at ${hex(splitKey)}`);
    return [leftHalf, rightHalf];
  }

  /**
   * gRPC only: POSTs an operator to pd's HTTP API. pd needs a region heartbeat naming the leader before it
   * accepts one, so "no known leader" (409) is retried until `timeoutMs`; other refusals throw PdOperatorError.
   */
  async pdOperator(request: Readonly<Record<string, unknown>>, timeoutMs = DEFAULT_WAIT_MS): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const response = await fetch(`${this.pd.httpUrl}/pd/api/v1/operators`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(request),
      });
      const body = await response.text();
      if (response.ok) return;
      const retriable = response.status === 409 || response.status === 503;
      if (!retriable || Date.now() >= deadline) throw new PdOperatorError(request, response.status, body);
      await sleep(50);
    }
  }

  // ---- shutdown ------------------------------------------------------------------------------------------

  /**
   * Closes the client, every store, pd, and removes the data; then fails if a store stopped on a fatal
   * error. Idempotent; safe after a failed start.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await (await this.rawClient?.catch(() => undefined))?.close();
    try {
      await this.nodes.close();
    } finally {
      rmSync(this.root, { recursive: true, force: true });
    }
    if (this.fatalErrors.length > 0) {
      throw new AggregateError(this.fatalErrors, `a store failed: ${this.fatalErrors[0]!.message}`);
    }
  }

  // ---- helpers -------------------------------------------------------------------------------------------

  private adminPath(via: AdminPath | undefined): AdminPath {
    return via ?? (this.nodes instanceof GrpcNodes ? "pd" : "facade");
  }

  private grpcNodes(what: string): GrpcNodes {
    if (!(this.nodes instanceof GrpcNodes)) throw new Error(`a local cluster has no ${what}`);
    return this.nodes;
  }

  private knownStoreId(index: number): bigint | undefined {
    try {
      return this.nodes.storeId(index);
    } catch {
      return undefined;
    }
  }

  private indexOfOrUnknown(storeId: bigint): string {
    const index = this.indexes.find((candidate) => this.knownStoreId(candidate) === storeId);
    return index === undefined ? `?${storeId}` : String(index);
  }

  private newestRegion(matches: (region: metapb.Region) => boolean): metapb.Region | undefined {
    let best: metapb.Region | undefined;
    for (const index of this.runningIndexes()) {
      const store = this.store(index);
      for (const { regionId } of store.peers()) {
        const region = store.region(regionId);
        if (region !== undefined && matches(region) && (best === undefined || newer(region, best))) {
          best = region;
        }
      }
    }
    return best;
  }
}

function checkTransportOptions(transport: ClusterTransport, options: StoreClusterOptions): void {
  const misplaced =
    transport === "local"
      ? (["store", "schedule"] as const).filter((option) => options[option] !== undefined)
      : (["scheduleTurn"] as const).filter((option) => options[option] !== undefined);
  if (misplaced.length > 0) {
    throw new RangeError(`${misplaced.join(", ")}: not an option of a ${transport} cluster`);
  }
}

function newer(region: metapb.Region, than: metapb.Region): boolean {
  const a = epochOf(region);
  const b = epochOf(than);
  return a.version > b.version || (a.version === b.version && a.confVer > b.confVer);
}

function hex(key: Uint8Array): string {
  return key.length === 0 ? "''" : Buffer.from(key).toString("hex");
}
