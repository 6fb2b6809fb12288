/**
 * The store cluster harness (TinyKV's `test_raftstore.Cluster`, over real gRPC): a real pd (embedded
 * backend) and N stores in this process on 127.0.0.1 with free ports, temporary data directories, fast
 * ticks and tiny thresholds, and a fault layer in every store's raft transport.
 *
 *   const cluster = await StoreCluster.start({ label: "split basic", stores: 3 });
 *   try { ... cluster.partition([[0], [1, 2]]); ... cluster.heal(); } finally { await cluster.close(); }
 *
 * Stores are addressed by index (0..N-1, stable across restarts); `storeId(index)` gives pd's id. Faults
 * live in one filter the harness installs on every store, so a restarted store is born with the faults in
 * force. pd schedules nothing on its own (replica repair and balancing off) unless a test asks for it:
 * membership and leadership change only when the test says so, which keeps failures explainable.
 *
 * Randomness (fault choices, unreliable drops) comes from one SeededRandom whose seed is printed;
 * `SEED=n` replays the same choices (the interleaving with real time still varies).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PdClient, type PdRegion, RawKvClient } from "#client";
import { compareBytes } from "#codec";
import { createLogger, LOG_LEVELS, type Logger, type LogLevel } from "#observability";
import { metapb } from "#proto";
import { type Random, SeededRandom, sleep } from "#runtime";
import { resolveSeed } from "#sim";
import type { ScheduleConfig } from "../../../services/pd/src/schedule/index.ts";
import { pdOptionsWithDefaults, type RunningPd, startPd } from "../../../services/pd/src/server/pd-server.ts";
import {
  defaultRaftstoreConfig,
  type RaftstoreConfig,
} from "../../../services/tikv-store/src/raftstore/raftstore-config.ts";
import { NotLeaderError } from "../../../services/tikv-store/src/raftstore/region-errors.ts";
import { findPeerOnStore, keyInRegion } from "../../../services/tikv-store/src/raftstore/region-meta.ts";
import { UnsafePeerChangeError } from "../../../services/tikv-store/src/raftstore/store.ts";
import {
  type RunningStore,
  type StoreServerOptions,
  startStore,
  storeOptionsWithDefaults,
} from "../../../services/tikv-store/src/server/store-server.ts";
import type { TransportFilter } from "../../../services/tikv-store/src/server/transport-filter.ts";
import { ClusterFaults } from "./cluster-faults.ts";

/** Ticks of 50 ms: elections within 0.5–1 s, so failover is quick yet a busy event loop does not churn leaders. */
export const FAST_RAFTSTORE: Partial<RaftstoreConfig> = {
  baseTickMs: 50,
  heartbeatTicks: 2,
  electionTicks: 10,
  raftLogGcTickMs: 200,
  splitCheckTickMs: 200,
  readIndexTimeoutMs: 2_000,
  maxLeaderMissingMs: 3_000,
  busyBackoffMs: 20,
};

/** No automatic replica repair or balancing: tests decide membership and leadership. */
export const QUIET_SCHEDULE: Partial<ScheduleConfig> = {
  replicaScheduleLimit: 0,
  leaderScheduleLimit: 0,
  regionScheduleLimit: 0,
};

export interface StoreClusterOptions {
  /** Names the printed seed line. */
  readonly label: string;
  readonly stores: number;
  /** Voters of the first region once `start` returns [min(3, stores)]. */
  readonly replicas?: number;
  readonly raftstore?: Partial<RaftstoreConfig>;
  /** Store server settings (limits, heartbeat intervals …) over the harness defaults. */
  readonly store?: Partial<StoreServerOptions>;
  /** pd scheduling over QUIET_SCHEDULE. */
  readonly schedule?: Partial<ScheduleConfig>;
  /** A seed instead of SEED / a fresh one (tests that must not vary). */
  readonly seed?: number;
}

export type AdminPath = "pd" | "facade";

/** A region as its leader sees it. */
export interface RegionLeader {
  readonly index: number;
  readonly running: RunningStore;
  readonly region: metapb.Region;
  readonly peer: metapb.Peer;
  readonly term: bigint;
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
const POLL_MS = 25;
/** In one process the closed instance's RocksDB lock can outlive `close` for a moment. */
const RESTART_ATTEMPTS = 20;
const RESTART_PAUSE_MS = 100;
const ADMIN_ATTEMPTS = 200;
/** How long one leader transfer or split request is given before it is asked again. */
const RETRY_ADMIN_AFTER_MS = 1_000;

/** Silent unless TESSERA_TEST_LOG_LEVEL names a level (to debug a failing cluster test). */
export function testLogLevel(): LogLevel {
  const level = process.env.TESSERA_TEST_LOG_LEVEL;
  return LOG_LEVELS.includes(level as LogLevel) ? (level as LogLevel) : "silent";
}

export const bytes = (value: string): Uint8Array => new TextEncoder().encode(value);
export const text = (value: Uint8Array | undefined): string | undefined =>
  value === undefined ? undefined : new TextDecoder().decode(value);

export class StoreCluster {
  readonly random: Random;
  readonly faults: ClusterFaults;
  private readonly stores: Array<RunningStore | undefined> = [];
  private readonly ids: bigint[] = [];
  private readonly dataDirs: string[] = [];
  private readonly logger: Logger;
  private rawClient: Promise<RawKvClient> | undefined;
  private closed = false;

  private constructor(
    readonly seed: number,
    private readonly options: StoreClusterOptions,
    private readonly root: string,
    readonly pd: RunningPd,
    readonly pdClient: PdClient,
  ) {
    this.random = new SeededRandom(seed);
    this.faults = new ClusterFaults(this.random.fork());
    this.logger = createLogger({ component: "tikv-store", level: testLogLevel() });
  }

  /** Starts pd, then the stores (the first bootstraps the cluster), then replicates the first region. */
  static async start(options: StoreClusterOptions): Promise<StoreCluster> {
    const seed = options.seed ?? resolveSeed(options.label);
    const root = mkdtempSync(join(tmpdir(), "tessera-store-harness-"));
    let pd: RunningPd | undefined;
    let cluster: StoreCluster | undefined;
    try {
      pd = await startPd(
        pdOptionsWithDefaults({
          dataDir: join(root, "pd"),
          listenHost: "127.0.0.1",
          clientPort: 0,
          httpPort: 0,
          scheduleIntervalMs: 100,
          schedule: {
            ...pdOptionsWithDefaults({}).schedule,
            maxReplicas: options.replicas ?? Math.min(3, options.stores),
            ...QUIET_SCHEDULE,
            ...options.schedule,
          },
          logLevel: testLogLevel(),
        }),
      );
      const pdClient = await PdClient.connect({ endpoints: [pd.clientUrl] });
      cluster = new StoreCluster(seed, options, root, pd, pdClient);
      await cluster.startAll();
      return cluster;
    } catch (error) {
      if (cluster !== undefined) await cluster.close();
      else {
        await pd?.close();
        rmSync(root, { recursive: true, force: true });
      }
      throw error;
    }
  }

  private async startAll(): Promise<void> {
    for (let index = 0; index < this.options.stores; index++) {
      this.dataDirs.push(join(this.root, `store-${index}`));
    }
    // The first store alone, so it is the one that bootstraps region 1; the others may start together.
    await this.startStore(0);
    await Promise.all(this.dataDirs.slice(1).map((_, offset) => this.startStore(offset + 1)));
    const first = await this.waitLeaderOf(new Uint8Array());
    const replicas = this.options.replicas ?? Math.min(3, this.options.stores);
    for (let index = 1; index < replicas; index++) {
      await this.addPeer(first.region.id, index, { via: "facade" });
    }
  }

  get storeCount(): number {
    return this.options.stores;
  }

  storeId(index: number): bigint {
    const id = this.ids[index];
    if (id === undefined) throw new RangeError(`store ${index} was never started`);
    return id;
  }

  indexOf(storeId: bigint): number {
    const index = this.ids.indexOf(storeId);
    if (index < 0) throw new RangeError(`store id ${storeId} is not in this cluster`);
    return index;
  }

  isRunning(index: number): boolean {
    return this.stores[index] !== undefined;
  }

  runningIndexes(): number[] {
    return this.stores.flatMap((store, index) => (store === undefined ? [] : [index]));
  }

  /** The running store `index` (its Store facade, transport and metrics). */
  store(index: number): RunningStore {
    const store = this.stores[index];
    if (store === undefined) throw new Error(`store ${index} is not running`);
    return store;
  }

  /** The raw KV client of the tests, created on first use and closed with the cluster. */
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

  private async startStore(index: number): Promise<RunningStore> {
    const running = await startStore(
      storeOptionsWithDefaults({
        dataDir: this.dataDirs[index]!,
        listenAddress: "127.0.0.1:0",
        statusListenAddress: "127.0.0.1:0",
        pdEndpoints: [this.pd.clientUrl],
        storeHeartbeatIntervalMs: 300,
        regionHeartbeatIntervalMs: 300,
        raftReconnectBackoff: { baseMs: 20, capMs: 300 },
        raftstore: { ...defaultRaftstoreConfig(), ...FAST_RAFTSTORE, ...this.options.raftstore },
        // `stop` is a crash: no leader hand-over first.
        leaderTransferTimeoutMs: 0,
        logger: this.logger,
        ...this.options.store,
      }),
    );
    this.stores[index] = running;
    this.ids[index] = running.storeId;
    running.transport.addFilter(this.faults);
    return running;
  }

  /**
   * Crashes store `index`: its raft traffic is cut first (so nothing it does while closing reaches the
   * others), then it closes without handing its leaders over (pd still hears "stopping" from it, which a
   * restart clears). The data directory stays for `restart`. In one process a close cannot lose unsynced
   * writes the way SIGKILL can; crash-durability.test.ts kills real processes for that.
   */
  async stop(index: number): Promise<void> {
    const running = this.store(index);
    this.stores[index] = undefined;
    this.faults.markDown(running.storeId);
    await running.close();
  }

  /** Starts store `index` again on its data directory (it recovers from disk and rejoins). */
  async restart(index: number): Promise<RunningStore> {
    if (this.isRunning(index)) throw new Error(`store ${index} is already running`);
    // Reachable from its first moment, as a restarted process would be.
    this.faults.markUp(this.storeId(index));
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.startStore(index);
      } catch (error) {
        if (attempt >= RESTART_ATTEMPTS) throw error;
        await sleep(RESTART_PAUSE_MS);
      }
    }
  }

  // ---- faults --------------------------------------------------------------------------------------------

  /** Stores (by index) in different groups cannot exchange raft messages; stores in no group reach nobody. */
  partition(groups: readonly (readonly number[])[]): void {
    this.faults.setPartition(groups.map((group) => group.map((index) => this.storeId(index))));
  }

  /** Cuts store `index` off from every other store. */
  isolate(index: number): void {
    const others = this.ids.map((_, other) => other).filter((other) => other !== index);
    this.partition([[index], others]);
  }

  /** TinyKV's unreliable network: about 10% of raft messages dropped, some delayed (reordered). */
  unreliable(on: boolean): void {
    this.faults.setUnreliable(on);
  }

  /** Installs `filter` on the stores `indexes` (all by default) until `heal`; survives restarts. */
  addFilter(filter: TransportFilter, indexes: readonly number[] = this.ids.map((_, index) => index)): void {
    this.faults.addFilter(
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

  private findLeader(matches: (region: metapb.Region) => boolean): RegionLeader | undefined {
    let best: RegionLeader | undefined;
    for (const index of this.runningIndexes()) {
      const running = this.store(index);
      for (const { regionId, isLeader } of running.store.peers()) {
        if (!isLeader) continue;
        const heartbeat = running.store.regionHeartbeat(regionId);
        if (heartbeat === undefined || !matches(heartbeat.region)) continue;
        if (best === undefined || heartbeat.term > best.term) {
          best = { index, running, region: heartbeat.region, peer: heartbeat.leader, term: heartbeat.term };
        }
      }
    }
    return best;
  }

  /** Every region pd knows, in key order. */
  async regions(): Promise<PdRegion[]> {
    return this.pdClient.scanRegions(new Uint8Array(), new Uint8Array(), 0);
  }

  /** One line per running store and region: who holds what, for failure messages. */
  describe(): string {
    const lines: string[] = [];
    for (const index of this.runningIndexes()) {
      const { store, storeId } = this.store(index);
      for (const { regionId, peerId, isLeader } of store.peers()) {
        const region = store.region(regionId);
        const epoch = region?.regionEpoch;
        lines.push(
          `store ${index} (id ${storeId}) region ${regionId} peer ${peerId}${isLeader ? " LEADER" : ""} ` +
            (region === undefined
              ? "uninitialized"
              : `[${hex(region.startKey)}, ${hex(region.endKey)}) conf_ver ${epoch?.confVer} version ${epoch?.version} peers ${region.peers.map((peer) => `${peer.id}@${this.indexOfOrUnknown(peer.storeId)}${peer.role === metapb.PeerRole.LEARNER ? "L" : ""}`).join(",")}`),
        );
      }
    }
    const down = this.ids.flatMap((_, index) => (this.isRunning(index) ? [] : [index]));
    return `${lines.join("\n")}${down.length > 0 ? `\ndown: ${down.join(",")}` : ""}\nfaults: ${this.faults.describe()}`;
  }

  private indexOfOrUnknown(storeId: bigint): string {
    const index = this.ids.indexOf(storeId);
    return index < 0 ? `?${storeId}` : String(index);
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
      await sleep(POLL_MS);
    }
  }

  // ---- admin ---------------------------------------------------------------------------------------------

  /**
   * Adds a voter of `regionId` on store `index` and waits until the leader counts it as a voter and the
   * new peer holds the region. Through pd's add-peer operator (pd picks the peer id) or straight through
   * the leader's Store facade (add learner, then promote), where `peerId` may reuse an old id.
   */
  async addPeer(
    regionId: bigint,
    index: number,
    options: { readonly via?: AdminPath; readonly peerId?: bigint } = {},
  ): Promise<metapb.Peer> {
    const storeId = this.storeId(index);
    if ((options.via ?? "pd") === "pd") {
      if (options.peerId !== undefined) throw new RangeError("pd allocates the peer id itself");
      await this.pdOperator({ name: "add-peer", region_id: String(regionId), store_id: String(storeId) });
    } else {
      const peerId = options.peerId ?? (await this.pdClient.allocId());
      const learner = metapb.Peer.fromPartial({ id: peerId, storeId, role: metapb.PeerRole.LEARNER });
      await this.onLeader(regionId, (leader) =>
        leader.running.store.changePeer(regionId, { type: "add-learner", peer: learner }),
      );
      await this.onLeader(regionId, (leader) =>
        leader.running.store.changePeer(regionId, {
          type: "promote",
          peer: { ...learner, role: metapb.PeerRole.VOTER },
        }),
      );
    }
    return this.waitForValue(`a voter of region ${regionId} on store ${index}`, () => {
      const leader = this.leaderOfRegion(regionId);
      const peer = leader && findPeerOnStore(leader.region, storeId);
      if (peer === undefined || peer.role !== metapb.PeerRole.VOTER) return undefined;
      return this.isRunning(index) && this.store(index).store.region(regionId) !== undefined
        ? peer
        : undefined;
    });
  }

  /** Removes the peer of `regionId` on store `index`; waits until the leader's region no longer has it. */
  async removePeer(
    regionId: bigint,
    index: number,
    options: { readonly via?: AdminPath } = {},
  ): Promise<void> {
    const storeId = this.storeId(index);
    if ((options.via ?? "pd") === "pd") {
      await this.pdOperator({ name: "remove-peer", region_id: String(regionId), store_id: String(storeId) });
    } else {
      await this.onLeader(regionId, (leader) => {
        const peer = findPeerOnStore(leader.region, storeId);
        return peer === undefined
          ? Promise.resolve()
          : leader.running.store.changePeer(regionId, { type: "remove", peer });
      });
    }
    await this.waitFor(`region ${regionId} to lose its peer on store ${index}`, () => {
      const leader = this.leaderOfRegion(regionId);
      return leader !== undefined && findPeerOnStore(leader.region, storeId) === undefined;
    });
  }

  /** Moves the leadership of `regionId` to store `index` and waits until that store leads it. */
  async transferLeader(
    regionId: bigint,
    index: number,
    options: { readonly via?: AdminPath } = {},
  ): Promise<void> {
    const storeId = this.storeId(index);
    const led = (): boolean => this.leaderOfRegion(regionId)?.index === index;
    if (led()) return;
    const ask = async (): Promise<void> => {
      const leader = this.leaderOfRegion(regionId);
      const peer = leader && findPeerOnStore(leader.region, storeId);
      if (leader === undefined || peer === undefined) return;
      if ((options.via ?? "pd") === "pd") {
        await this.pdOperator({
          name: "transfer-leader",
          region_id: String(regionId),
          to_store_id: String(storeId),
        });
      } else {
        leader.running.store.transferLeader(regionId, peer);
      }
    };
    // A transfer can be refused (pd still sees the target lagging) or lost to an election: ask until it happens.
    await this.waitFor(`store ${index} to lead region ${regionId}`, async () => {
      if (led()) return true;
      await ask();
      await this.waitFor(`the transfer to store ${index}`, led, RETRY_ADMIN_AFTER_MS).catch(() => undefined);
      return led();
    });
  }

  /**
   * Splits the region holding `splitKey` at it, through the leader's Store facade or pd's split-region
   * operator, asking again while it has not happened (pd's view of the region may be stale, the leader may
   * move); waits until a leader serves the region starting at `splitKey`.
   */
  async split(splitKey: Uint8Array, options: { readonly via?: AdminPath } = {}): Promise<void> {
    const done = (): boolean => {
      const current = this.leaderOf(splitKey);
      return current !== undefined && compareBytes(current.region.startKey, splitKey) === 0;
    };
    const ask = async (leader: RegionLeader): Promise<void> => {
      if ((options.via ?? "facade") === "facade") {
        await leader.running.store.splitRegion(leader.region.id, [splitKey]);
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
    await this.waitFor(`a region starting at ${hex(splitKey)}`, async () => {
      const leader = this.leaderOf(splitKey);
      if (done() || leader === undefined) return done();
      await ask(leader);
      await this.waitFor("the split", done, RETRY_ADMIN_AFTER_MS).catch(() => undefined);
      return done();
    });
  }

  /** Runs an admin call on the region's current leader, following NotLeader (a leader moving) a bounded number of times. */
  private async onLeader(regionId: bigint, call: (leader: RegionLeader) => Promise<unknown>): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const leader = await this.waitLeaderOfRegion(regionId);
      try {
        await call(leader);
        return;
      } catch (error) {
        // A new voter that has not caught up yet makes a promotion unsafe for a moment: retry, as pd does.
        const transient = error instanceof NotLeaderError || error instanceof UnsafePeerChangeError;
        if (!transient || attempt >= ADMIN_ATTEMPTS) throw error;
        await sleep(POLL_MS);
      }
    }
  }

  /**
   * POSTs an operator to pd's HTTP API. pd needs a region heartbeat naming the leader before it accepts
   * one, so "no known leader" (409) is retried until `timeoutMs`; other refusals throw PdOperatorError.
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

  /** Closes the client, every store, pd, and removes the data. Idempotent; safe after a failed start. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await (await this.rawClient?.catch(() => undefined))?.close();
    await Promise.allSettled(
      this.runningIndexes().map((index) => {
        const running = this.store(index);
        this.stores[index] = undefined;
        return running.close();
      }),
    );
    await this.pdClient.close();
    await this.pd.close();
    rmSync(this.root, { recursive: true, force: true });
  }
}

export function hex(key: Uint8Array): string {
  return key.length === 0 ? "''" : Buffer.from(key).toString("hex");
}
