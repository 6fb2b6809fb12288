/**
 * Runs one pd member: the gRPC `pdpb.PD` service, the HTTP API, the metadata backend (embedded when no
 * etcd endpoints are given, else etcd with leader election) and, while this member leads, the TSO, id
 * allocator, cluster state and scheduling.
 *
 * Start-up order: bind both ports first (so a port of 0 resolves to the real one before this member
 * advertises itself in the election), then open the backend, learn the cluster id, and only then route
 * requests to the service; until then requests get UNAVAILABLE. Leadership is handled by LeaderGuard:
 * each time this member wins, it reloads the cluster state, the id block and the TSO window before it
 * serves.
 */
import { createHash } from "node:crypto";
import {
  Server,
  type ServerDuplexStream,
  type ServerUnaryCall,
  type sendUnaryData,
  status,
  type UntypedServiceImplementation,
} from "@grpc/grpc-js";
import type { Gauge } from "prom-client";
import { createLogger, createRegistry, type Logger, type LogLevel, MetricFactory } from "#observability";
import { pdpb } from "#proto";
import {
  type Clock,
  loadConfig,
  type Random,
  systemClock,
  systemRandom,
  systemTimers,
  TaskScope,
  type TimerHandle,
  type Timers,
} from "#runtime";
import { bindGrpcServer, shutdownGrpcServer } from "#runtime/grpc-server";
import { ClusterBootstrapper } from "../cluster/bootstrap.ts";
import { ClusterState } from "../cluster/cluster-state.ts";
import type { StoreHealth } from "../cluster/cluster-view.ts";
import { GcSafePoint } from "../cluster/gc-safe-point.ts";
import { type PdConfig, pdConfigSchema } from "../config.ts";
import { IdAllocator } from "../id/id-allocator.ts";
import { Coordinator, type ScheduleConfig, scheduleConfigFromValues } from "../schedule/index.ts";
import { type MemberInfo, openEmbeddedBackend, openEtcdBackend, type PdBackend } from "../storage/index.ts";
import { TsoAllocator } from "../tso/tso-allocator.ts";
import { resolveClusterId } from "./cluster-id.ts";
import { HeartbeatStreams } from "./heartbeat-streams.ts";
import { createPdHttpRoutes, type PdHttpDependencies } from "./http-api.ts";
import { type HttpServerHandle, startHttpServer } from "./http-server.ts";
import { LeaderGuard } from "./leader-guard.ts";
import { createPdService } from "./pd-service.ts";

/** Everything `startPd` needs; `pdOptionsFromConfig` builds it from the loaded config file and flags. */
export interface PdOptions {
  readonly name: string;
  readonly dataDir: string;
  readonly listenHost: string;
  /** 0 picks a free port. */
  readonly clientPort: number;
  readonly httpPort: number;
  /** Empty means http://<listenHost>:<port>. */
  readonly advertiseClientUrl: string;
  readonly advertiseHttpUrl: string;
  /** Empty selects the embedded backend. */
  readonly etcdEndpoints: readonly string[];
  readonly etcdRootPath: string;
  readonly leaseTtlSeconds: number;
  readonly tsoWindowMs: number;
  readonly tsoUpdateIntervalMs: number;
  readonly idBlockSize: number;
  readonly storeDisconnectMs: number;
  readonly storeDownMs: number;
  readonly scheduleIntervalMs: number;
  readonly schedule: ScheduleConfig;
  readonly logLevel: LogLevel;
  /** Overrides for tests; the real implementations otherwise. */
  readonly logger?: Logger;
  readonly clock?: Clock;
  readonly timers?: Timers;
  readonly random?: Random;
  /** Opens the backend instead of the embedded/etcd choice (tests with an in-memory backend). */
  readonly openBackend?: (self: MemberInfo) => Promise<PdBackend>;
}

export interface RunningPd {
  /** gRPC address, "127.0.0.1:port". */
  readonly clientUrl: string;
  /** HTTP API base URL, "http://127.0.0.1:port". */
  readonly httpUrl: string;
  readonly clusterId: bigint;
  readonly member: MemberInfo;
  /** True while this member is the leader and has finished its start-up. */
  isServingLeader(): boolean;
  close(): Promise<void>;
}

/** gRPC calls in flight get this long to finish when pd shuts down. */
const GRPC_SHUTDOWN_GRACE_MS = 1_000;
const STORE_HEALTHS: readonly StoreHealth[] = ["up", "disconnected", "down", "offline", "tombstone"];

export function pdOptionsFromConfig(config: PdConfig): PdOptions {
  return {
    name: config.name,
    dataDir: config.dataDir,
    listenHost: config.listenHost,
    clientPort: config.clientPort,
    httpPort: config.httpPort,
    advertiseClientUrl: config.advertiseClientUrl,
    advertiseHttpUrl: config.advertiseHttpUrl,
    etcdEndpoints: config.etcd.endpoints,
    etcdRootPath: config.etcd.rootPath,
    leaseTtlSeconds: Math.max(1, Math.round(config.etcd.leaseTtl / 1000)),
    tsoWindowMs: config.tso.window,
    tsoUpdateIntervalMs: config.tso.updateInterval,
    idBlockSize: config.id.blockSize,
    storeDisconnectMs: config.store.disconnectDuration,
    storeDownMs: config.store.downDuration,
    scheduleIntervalMs: config.schedule.interval,
    schedule: scheduleConfigFromValues(config.schedule),
    logLevel: config.log.level,
  };
}

/** The documented defaults with some settings replaced; convenient for tests and tools that start pd in-process. */
export function pdOptionsWithDefaults(overrides: Partial<PdOptions>): PdOptions {
  return { ...pdOptionsFromConfig(loadConfig(pdConfigSchema, { argv: [] })), ...overrides };
}

export async function startPd(options: PdOptions): Promise<RunningPd> {
  const logger = options.logger ?? createLogger({ component: "pd", level: options.logLevel });
  const closers: Closers = {};
  try {
    return await startMember(options, logger, closers);
  } catch (error) {
    await closeAll(closers, logger);
    throw error;
  }
}

async function startMember(options: PdOptions, logger: Logger, closers: Closers): Promise<RunningPd> {
  const clock = options.clock ?? systemClock;
  const timers = options.timers ?? systemTimers;
  const registry = createRegistry("pd");
  const metrics = new MetricFactory(registry, "pd");
  const routing = new RequestRouting();

  const grpcServer = new Server();
  grpcServer.addService(pdpb.PDService, routing.grpcImplementation());
  const clientPort = await bindGrpcServer(grpcServer, options.listenHost, options.clientPort);
  closers.grpc = () => shutdownGrpcServer(grpcServer, GRPC_SHUTDOWN_GRACE_MS, timers);
  const http = await startHttpServer({
    host: options.listenHost,
    port: options.httpPort,
    routes: createPdHttpRoutes(() => routing.http, { registry, clock }),
    onError: (error) => logger.error({ err: error }, "pd HTTP request failed"),
  });
  closers.http = () => http.close();

  const member = memberInfo(options, clientPort, http);
  const backend = await (options.openBackend ?? ((self) => openConfiguredBackend(options, self, logger)))(
    member,
  );
  closers.backend = () => backend.close();
  const clusterId = await resolveClusterId(backend, clock, timers, options.random ?? systemRandom);
  const log = logger.child({ clusterId, member: member.name });

  const heartbeatStreams = new HeartbeatStreams();
  const leader = new LeaderServices(
    options,
    backend,
    clusterId,
    log,
    metrics,
    clock,
    timers,
    heartbeatStreams,
  );
  closers.leader = () => leader.close();
  const guard = new LeaderGuard({
    election: backend.election,
    startup: () => leader.start(),
    teardown: () => leader.stop(),
    timers,
    logger: log,
  });
  closers.guard = () => guard.close();
  routing.grpc = createPdService({
    ...leader.serviceParts(),
    heartbeatStreams,
    clusterId,
    guard,
    election: backend.election,
    logger: log,
    metrics,
  });
  routing.http = {
    clusterId,
    guard,
    election: backend.election,
    cluster: leader.cluster,
    coordinator: () => leader.coordinator,
    self: member,
  };
  guard.start();
  log.info({ clientPort, httpPort: http.port, etcd: options.etcdEndpoints }, "pd started");

  let closing: Promise<void> | undefined;
  return {
    clientUrl: `${options.listenHost}:${clientPort}`,
    httpUrl: `http://${options.listenHost}:${http.port}`,
    clusterId,
    member,
    isServingLeader: () => guard.isReady,
    close: () => {
      closing ??= closeAll(closers, log);
      return closing;
    },
  };
}

/** Per-leader-term machinery: started by LeaderGuard when this member wins, stopped when it loses. */
class LeaderServices {
  readonly cluster: ClusterState;
  readonly bootstrapper: ClusterBootstrapper;
  readonly ids: IdAllocator;
  readonly tso: TsoAllocator;
  readonly gcSafePoint: GcSafePoint;
  coordinator: Coordinator | undefined;
  /** Scheduling passes and region checks; a pass of an ended term finishes on its own discarded coordinator. */
  private readonly scope: TaskScope;
  private scheduleTimer: TimerHandle | undefined;
  private scheduling = false;
  private readonly regionGauge: Gauge;
  private readonly storeGauge: Gauge<"health">;
  /** Per store, as pd's region heartbeats place them: what balance scheduling works from. */
  private readonly storeRegionGauge: Gauge<"store">;
  private readonly storeLeaderGauge: Gauge<"store">;

  constructor(
    private readonly options: PdOptions,
    backend: PdBackend,
    clusterId: bigint,
    private readonly logger: Logger,
    metrics: MetricFactory,
    private readonly clock: Clock,
    private readonly timers: Timers,
    private readonly heartbeatStreams: HeartbeatStreams,
  ) {
    this.scope = new TaskScope({
      name: "pd scheduling",
      onError: (error, task) => logger.warn({ err: error, task }, "pd scheduling task failed"),
    });
    const storage = backend.storage;
    this.cluster = new ClusterState({
      storage,
      clock,
      storeDisconnectMs: options.storeDisconnectMs,
      storeDownMs: options.storeDownMs,
    });
    this.bootstrapper = new ClusterBootstrapper(this.cluster, clusterId, options.schedule.maxReplicas);
    this.ids = new IdAllocator({ storage, blockSize: options.idBlockSize });
    this.tso = new TsoAllocator({
      storage,
      clock,
      timers,
      windowMs: options.tsoWindowMs,
      updateIntervalMs: options.tsoUpdateIntervalMs,
      onBackgroundError: (error) => logger.warn({ err: error }, "extending the TSO window failed"),
    });
    this.gcSafePoint = new GcSafePoint(storage);
    this.regionGauge = metrics.gauge({
      subsystem: "cluster",
      name: "regions",
      unit: "count",
      help: "Regions known to this pd member (0 on followers)",
    });
    this.storeGauge = metrics.gauge({
      subsystem: "cluster",
      name: "stores",
      unit: "count",
      help: "Stores known to this pd member by health (0 on followers)",
      labelNames: ["health"] as const,
    });
    this.storeRegionGauge = metrics.gauge({
      subsystem: "cluster",
      name: "store_regions",
      unit: "count",
      help: "Region replicas on each store, by store id (0 on followers)",
      labelNames: ["store"] as const,
    });
    this.storeLeaderGauge = metrics.gauge({
      subsystem: "cluster",
      name: "store_leaders",
      unit: "count",
      help: "Region leaders on each store, by store id (0 on followers)",
      labelNames: ["store"] as const,
    });
  }

  serviceParts() {
    return {
      cluster: this.cluster,
      bootstrapper: this.bootstrapper,
      ids: this.ids,
      tso: this.tso,
      gcSafePoint: this.gcSafePoint,
      operators: () => this.coordinator,
    };
  }

  async start(): Promise<void> {
    // A retried or overtaken start-up may have left timers and state behind; begin from nothing.
    this.stop();
    const loaded = await this.cluster.load();
    await this.ids.start();
    await this.gcSafePoint.load();
    const coordinator = new Coordinator({
      cluster: this.cluster,
      allocId: () => this.ids.allocate(),
      clock: this.clock,
      config: this.options.schedule,
      sendStep: (storeId, step) => this.heartbeatStreams.send(storeId, step),
      onRegionsToCheck: () =>
        this.scope.spawn("region check", async () => {
          if (this.coordinator === coordinator) await coordinator.checkRegions();
        }),
    });
    this.coordinator = coordinator;
    // The TSO goes last: it starts its timer, and serving timestamps means the term is fully ready.
    await this.tso.start();
    this.scheduleTimer = this.timers.setInterval(
      () => this.scope.spawn("scheduling pass", () => this.runSchedule()),
      this.options.scheduleIntervalMs,
    );
    this.logger.info({ ...loaded, tsoWindowEndMs: this.tso.persistedWindowEndMs }, "pd leader state loaded");
  }

  stop(): void {
    this.tso.stop();
    this.ids.stop();
    this.scheduleTimer?.cancel();
    this.scheduleTimer = undefined;
    this.coordinator = undefined;
    this.cluster.reset();
    this.updateGauges();
  }

  /** After the guard has stopped the term: waits for the passes, checks and TSO extensions still running. */
  async close(): Promise<void> {
    await Promise.all([this.scope.close(), this.tso.close()]);
  }

  private updateGauges(): void {
    this.regionGauge.set(this.cluster.regionCount);
    const byHealth = new Map<string, number>(STORE_HEALTHS.map((health) => [health, 0]));
    for (const store of this.cluster.stores())
      byHealth.set(store.health, (byHealth.get(store.health) ?? 0) + 1);
    for (const [health, count] of byHealth) this.storeGauge.set({ health }, count);
    // Reset first, so removed stores (and every store, on a follower) leave no stale series behind.
    this.storeRegionGauge.reset();
    this.storeLeaderGauge.reset();
    for (const store of this.cluster.stores()) {
      if (store.health === "tombstone") continue;
      const labels = { store: store.meta.id.toString() };
      this.storeRegionGauge.set(labels, store.regionCount);
      this.storeLeaderGauge.set(labels, store.leaderCount);
    }
  }

  /** One scheduling round at a time: a slow round makes the next tick skip rather than pile up. */
  private async runSchedule(): Promise<void> {
    const coordinator = this.coordinator;
    if (this.scheduling || coordinator === undefined) return;
    this.scheduling = true;
    try {
      await coordinator.runOnce();
      await this.cluster.tombstoneEmptyOfflineStores();
      this.updateGauges();
    } finally {
      this.scheduling = false;
    }
  }
}

/**
 * Requests reach the gRPC service and HTTP API through here, so both ports can listen before the cluster
 * id is known; until the service is set, callers get UNAVAILABLE (gRPC) or 503 (HTTP).
 */
class RequestRouting {
  grpc: pdpb.PDServer | undefined;
  http: PdHttpDependencies | undefined;

  grpcImplementation(): UntypedServiceImplementation {
    const implementation: UntypedServiceImplementation = {};
    for (const [name, definition] of Object.entries(pdpb.PDService)) {
      const method = name as keyof pdpb.PDServer;
      implementation[name] = definition.requestStream
        ? (call: ServerDuplexStream<unknown, unknown>) => {
            const handler = this.grpc?.[method] as
              | ((call: ServerDuplexStream<unknown, unknown>) => void)
              | undefined;
            if (handler === undefined) call.emit("error", starting());
            else handler(call);
          }
        : (call: ServerUnaryCall<unknown, unknown>, callback: sendUnaryData<unknown>) => {
            const handler = this.grpc?.[method] as
              | ((call: ServerUnaryCall<unknown, unknown>, callback: sendUnaryData<unknown>) => void)
              | undefined;
            if (handler === undefined) callback(starting());
            else handler(call, callback);
          };
    }
    return implementation;
  }
}

function starting(): { code: status; details: string } {
  return { code: status.UNAVAILABLE, details: "pd is starting: the metadata backend is not open yet" };
}

function memberInfo(options: PdOptions, clientPort: number, http: HttpServerHandle): MemberInfo {
  const clientUrl = options.advertiseClientUrl || `http://${options.listenHost}:${clientPort}`;
  const httpUrl = options.advertiseHttpUrl || `http://${options.listenHost}:${http.port}`;
  return {
    name: options.name,
    memberId: memberIdOf(options.name),
    clientUrls: [clientUrl],
    httpUrls: [httpUrl],
  };
}

/** Stable across restarts, so a restarted member is recognisably the same one. */
function memberIdOf(name: string): bigint {
  const digest = createHash("sha256").update(`tessera-pd-member:${name}`).digest();
  const id = digest.readBigUInt64BE(0);
  return id === 0n ? 1n : id;
}

function openConfiguredBackend(options: PdOptions, self: MemberInfo, logger: Logger): Promise<PdBackend> {
  if (options.etcdEndpoints.length === 0) return openEmbeddedBackend({ dataDir: options.dataDir, self });
  return openEtcdBackend({
    endpoints: [...options.etcdEndpoints],
    rootPath: options.etcdRootPath,
    self,
    leaseTtlSeconds: options.leaseTtlSeconds,
    // Without it the backend would log at its own fixed level, apart from the member's configured logger.
    logger,
  });
}

type Closer = () => Promise<void> | void;
interface Closers {
  grpc?: Closer;
  http?: Closer;
  guard?: Closer;
  leader?: Closer;
  backend?: Closer;
}
/**
 * Stop taking requests first, then stop leading (stops TSO and scheduling), wait for scheduling work still
 * running, then release the backend (and its lease).
 */
const CLOSE_ORDER: ReadonlyArray<keyof Closers> = ["grpc", "http", "guard", "leader", "backend"];

async function closeAll(closers: Closers, logger: Logger): Promise<void> {
  for (const name of CLOSE_ORDER) {
    const close = closers[name];
    closers[name] = undefined;
    try {
      await close?.();
    } catch (error) {
      logger.error({ err: error, component: name }, "closing a pd component failed");
    }
  }
}
