/**
 * Runs one store: connects to pd, finds or allocates its store id, opens the raftstore, serves gRPC
 * (client requests and raft traffic) and status HTTP, registers with pd — bootstrapping the cluster when
 * it is the first store — and starts the pd worker.
 *
 * Bootstrap order: pd's Bootstrap first, then the local first region. Two stores starting against a new
 * cluster both try; pd lets exactly one win, and the loser has written nothing. A store that crashed
 * between the two steps finds on restart that pd holds the first region on it while it holds no region,
 * and creates it then (`finishInterruptedBootstrap`).
 *
 * Shutdown (`close`), in order: tell pd the store is stopping, move leaders away (bounded), stop the gRPC
 * server (draining briefly, then cutting streams), stop the pd worker and transport, close the raftstore
 * and its engines, the pd client and the status server.
 */
import { Server } from "@grpc/grpc-js";
import type { Registry } from "prom-client";
import { PdClient, PdServerError, type ReconnectBackoffPolicy } from "#client";
import { createLogger, createRegistry, type Logger, type LogLevel, MetricFactory } from "#observability";
import { deadlock, metapb, pdpb, tikvpb } from "#proto";
import {
  type Clock,
  ConfigError,
  loadConfig,
  type Random,
  startStatusServer,
  systemClock,
  systemRandom,
  systemTimers,
  type Timers,
} from "#runtime";
import { bindGrpcServer, shutdownGrpcServer } from "#runtime/grpc-server";
import packageJson from "../../../../package.json" with { type: "json" };
import { type StoreConfig, storeConfigSchema } from "../config.ts";
import { type RaftstoreConfig, raftstoreConfigFrom } from "../raftstore/raftstore-config.ts";
import { Store } from "../raftstore/store.ts";
import { grpcServerOptions } from "./grpc-options.ts";
import { advertisedAddress, parseHostPort } from "./listen-address.ts";
import { PdWorker } from "./pd-worker.ts";
import { RaftReceiver } from "./raft-receiver.ts";
import { GrpcRaftTransport } from "./raft-transport.ts";
import { RawKvHandlers } from "./raw-kv-handlers.ts";
import type { RequestLimits } from "./request-validation.ts";
import { createServerMetrics, instrumentedStore, type ServerMetrics } from "./server-metrics.ts";
import { raftstoreSnapshotSink } from "./snapshot-sink.ts";
import { createSnapshotHandler } from "./snapshot-stream.ts";
import { PdStoreResolver } from "./store-resolver.ts";
import { createTikvService } from "./tikv-service.ts";
import { TxnLayer, type TxnSettings } from "./txn-layer.ts";

export const STORE_VERSION: string = packageJson.version;

/** Everything `startStore` needs; `storeOptionsFromConfig` builds it from the loaded config. */
export interface StoreServerOptions {
  readonly dataDir: string;
  /** `server.addr`: host:port to listen on; port 0 picks a free port. */
  readonly listenAddress: string;
  /** Registered in pd; empty means the bound listen address. */
  readonly advertiseAddress: string;
  readonly statusListenAddress: string;
  readonly advertiseStatusAddress: string;
  readonly labels: readonly metapb.StoreLabel[];
  readonly pdEndpoints: readonly string[];
  readonly limits: RequestLimits;
  readonly batchCommandsMaxInFlight: number;
  readonly grpcMaxMessageBytes: number;
  readonly raftBatchMaxBytes: number;
  readonly raftQueueMaxMessages: number;
  readonly raftReconnectBackoff: ReconnectBackoffPolicy;
  readonly storeHeartbeatIntervalMs: number;
  readonly regionHeartbeatIntervalMs: number;
  readonly raftstore: RaftstoreConfig;
  readonly leaderTransferTimeoutMs: number;
  readonly txn: TxnSettings;
  readonly logLevel: LogLevel;
  /** Overrides for tests; the real implementations otherwise. */
  readonly logger?: Logger;
  readonly clock?: Clock;
  readonly timers?: Timers;
  readonly random?: Random;
  /** Called when the raftstore stops on a fatal error; the default crashes the process. */
  readonly onFatal?: (error: Error) => void;
}

export interface RunningStore {
  readonly storeId: bigint;
  /** gRPC address as registered in pd, "127.0.0.1:port". */
  readonly address: string;
  readonly statusAddress: string;
  readonly store: Store;
  readonly transport: GrpcRaftTransport;
  readonly metrics: Registry;
  /** The graceful shutdown described at the top of this file. Idempotent. */
  close(): Promise<void>;
}

export class StoreClusterMismatchError extends Error {
  override readonly name = "StoreClusterMismatchError";

  constructor(
    readonly dataDir: string,
    readonly dataClusterId: bigint,
    readonly pdClusterId: bigint,
  ) {
    super(
      `data directory ${dataDir} belongs to cluster ${dataClusterId}, but pd serves cluster ${pdClusterId}; ` +
        "point the store at its own cluster's pd or give it an empty data directory",
    );
  }
}

export class InvalidStoreLabelError extends Error {
  override readonly name = "InvalidStoreLabelError";

  constructor(readonly label: string) {
    super(`store label "${label}" is not key=value with a non-empty key`);
  }
}

/** gRPC calls in flight get this long to finish when the store shuts down; then streams are cut. */
const GRPC_SHUTDOWN_GRACE_MS = 1_000;
/** Snapshots received at once; more are refused and their leaders retry. */
const MAX_CONCURRENT_SNAPSHOT_RECEIVES = 4;
/** A snapshot sender that sends no chunk for this long is cut off (chunks normally come in milliseconds). */
const SNAPSHOT_RECEIVE_IDLE_TIMEOUT_MS = 30_000;
/** How long `startStore` keeps trying to reach pd (pd may be starting alongside). */
const PD_CONNECT_TIMEOUT_MS = 30_000;

export function storeOptionsFromConfig(config: StoreConfig): StoreServerOptions {
  const { server, pd, raftstore } = config;
  return {
    dataDir: config.dataDir,
    listenAddress: server.addr,
    advertiseAddress: server.advertiseAddr,
    statusListenAddress: server.statusAddr,
    advertiseStatusAddress: server.advertiseStatusAddr,
    labels: server.labels.map(parseLabel),
    pdEndpoints: pd.endpoints,
    limits: {
      maxKeyBytes: server.maxKeySize,
      maxEntryBytes: raftstore.raftEntryMaxSize,
      maxBatchKeys: server.maxBatchKeys,
      maxBatchBytes: server.maxBatchSize,
      maxScanLimit: server.maxScanLimit,
    },
    batchCommandsMaxInFlight: server.batchCommandsMaxInFlight,
    grpcMaxMessageBytes: server.grpcMaxMessageSize,
    raftBatchMaxBytes: server.raftBatchMaxSize,
    raftQueueMaxMessages: server.raftQueueMaxMessages,
    raftReconnectBackoff: raftReconnectBackoff(
      server.raftReconnectBackoffBase,
      server.raftReconnectBackoffMax,
    ),
    storeHeartbeatIntervalMs: pd.storeHeartbeatInterval,
    regionHeartbeatIntervalMs: pd.regionHeartbeatInterval,
    raftstore: raftstoreConfigFrom(config),
    leaderTransferTimeoutMs: config.shutdown.leaderTransferTimeout,
    txn: {
      maxLatchWaiters: config.storage.schedulerMaxWaitingCommands,
      lockWaitTimeoutMs: config.pessimisticTxn.waitForLockTimeout,
      wakeUpDelayMs: config.pessimisticTxn.wakeUpDelayDuration,
      maxLockWaiters: config.pessimisticTxn.maxLockWaiters,
    },
    logLevel: config.log.level,
  };
}

/** The documented defaults with some settings replaced; for tests and tools that start stores in-process. */
export function storeOptionsWithDefaults(overrides: Partial<StoreServerOptions>): StoreServerOptions {
  return { ...storeOptionsFromConfig(loadConfig(storeConfigSchema, { argv: [] })), ...overrides };
}

function raftReconnectBackoff(baseMs: number, capMs: number): ReconnectBackoffPolicy {
  if (!(baseMs > 0 && capMs >= baseMs)) {
    throw new ConfigError({
      source: "config",
      key: "server.raft-reconnect-backoff-base",
      problem: `server.raft-reconnect-backoff-base (${baseMs} ms) must be above 0 and at most server.raft-reconnect-backoff-max (${capMs} ms)`,
    });
  }
  return { baseMs, capMs };
}

function parseLabel(label: string): metapb.StoreLabel {
  const separator = label.indexOf("=");
  if (separator <= 0) throw new InvalidStoreLabelError(label);
  return { key: label.slice(0, separator), value: label.slice(separator + 1) };
}

/** Releases what start-up acquired so far, newest first, when a later step fails. */
type Closer = () => Promise<void> | void;

export async function startStore(options: StoreServerOptions): Promise<RunningStore> {
  const logger = options.logger ?? createLogger({ component: "tikv-store", level: options.logLevel });
  const closers: Closer[] = [];
  try {
    return await startParts(options, logger, closers);
  } catch (error) {
    await closeAll(closers, logger);
    throw error;
  }
}

/** What the start-up steps share. */
interface StartContext {
  readonly options: StoreServerOptions;
  readonly closers: Closer[];
  readonly clock: Clock;
  readonly timers: Timers;
  readonly random: Random;
  readonly registry: Registry;
  readonly factory: MetricFactory;
  readonly metrics: ServerMetrics;
  readonly logger: Logger;
  /** True from the start of shutdown: /health fails and pd hears is_stopping. */
  stopping: boolean;
}

async function startParts(
  options: StoreServerOptions,
  logger: Logger,
  closers: Closer[],
): Promise<RunningStore> {
  const registry = createRegistry("store");
  const factory = new MetricFactory(registry, "store");
  const start: StartContext = {
    options,
    closers,
    clock: options.clock ?? systemClock,
    timers: options.timers ?? systemTimers,
    random: options.random ?? systemRandom,
    registry,
    factory,
    metrics: createServerMetrics(factory),
    logger,
    stopping: false,
  };
  const { clock, timers, random } = start;
  const pd = await PdClient.connect({
    endpoints: options.pdEndpoints,
    connectTimeoutMs: PD_CONNECT_TIMEOUT_MS,
    clock,
    timers,
    random,
    logger,
  });
  closers.push(() => pd.close());
  const storeId = await resolveStoreId(pd, options.dataDir);
  const log = logger.child({ storeId });
  const observer: { pdWorker?: PdWorker; txnLayer?: TxnLayer } = {};
  const { store, transport } = await openRaftstore(start, pd, storeId, (regionId) => {
    observer.pdWorker?.regionChanged(regionId);
    observer.txnLayer?.regionChanged();
  });
  const txnLayer = new TxnLayer({
    store,
    pd,
    limits: options.limits,
    settings: options.txn,
    factory: start.factory,
    clock,
    timers,
    random,
    logger: log,
  });
  observer.txnLayer = txnLayer;
  const address = await serveGrpc(start, store, transport, txnLayer, log);
  const statusAddress = await serveStatus(start, store, address);
  const storeMeta = metapb.Store.fromPartial({
    id: storeId,
    address,
    statusAddress,
    labels: [...options.labels],
    version: STORE_VERSION,
    startTimestamp: BigInt(Math.floor(clock.nowMs() / 1000)),
  });
  await joinCluster(pd, store, storeMeta, log);
  const pdWorker = new PdWorker({
    store,
    pd,
    dataDir: options.dataDir,
    storeHeartbeatIntervalMs: options.storeHeartbeatIntervalMs,
    regionHeartbeatIntervalMs: options.regionHeartbeatIntervalMs,
    clock,
    timers,
    logger: log,
  });
  observer.pdWorker = pdWorker;
  pdWorker.start();
  closers.push(() => pdWorker.close());
  log.info({ address, statusAddress, regions: store.regionCount }, "store started");

  let closing: Promise<void> | undefined;
  const shutdown = async (): Promise<void> => {
    start.stopping = true;
    await pdWorker.reportStopping();
    await store.transferAllLeadersAway(options.leaderTransferTimeoutMs);
    log.info({ leadersLeft: store.storeStats().leaderCount }, "leader transfer finished; stopping");
    await closeAll(closers, log);
  };
  return {
    storeId,
    address,
    statusAddress,
    store,
    transport,
    metrics: registry,
    close: () => {
      closing ??= shutdown();
      return closing;
    },
  };
}

/** The transport first (the store sends through it from its first turn), then the raftstore itself. */
async function openRaftstore(
  start: StartContext,
  pd: PdClient,
  storeId: bigint,
  regionChanged: (regionId: bigint) => void,
): Promise<{ store: Store; transport: GrpcRaftTransport }> {
  const { options, clock, timers, random } = start;
  const transport = new GrpcRaftTransport({
    resolver: new PdStoreResolver(pd),
    maxQueuedMessages: options.raftQueueMaxMessages,
    maxBatchBytes: options.raftBatchMaxBytes,
    maxMessageBytes: options.grpcMaxMessageBytes,
    backoff: options.raftReconnectBackoff,
    clock,
    timers,
    random,
    logger: start.logger.child({ storeId }),
    metrics: start.metrics.transport,
  });
  start.closers.push(() => transport.close());
  const store = await Store.open({
    dataDirectory: options.dataDir,
    clusterId: pd.clusterId,
    storeId,
    transport,
    pd,
    logger: start.logger,
    config: options.raftstore,
    metricFactory: start.factory,
    observer: { regionChanged },
    clock,
    timers,
    random,
    onFatal: options.onFatal,
  });
  start.closers.push(() => store.close());
  transport.attach(store);
  return { store, transport };
}

/** Serves tikvpb.Tikv on `server.addr`; returns the address to advertise (a port of 0 resolved). */
async function serveGrpc(
  start: StartContext,
  store: Store,
  transport: GrpcRaftTransport,
  txnLayer: TxnLayer,
  log: Logger,
): Promise<string> {
  const { options, metrics, clock, timers } = start;
  const raftReceiver = new RaftReceiver({
    storeId: store.storeId,
    sink: store,
    filters: transport.filters,
    maxDelayedMessages: options.raftQueueMaxMessages,
    timers,
    logger: log,
    metrics: metrics.transport,
  });
  start.closers.push(() => raftReceiver.close());
  const served = instrumentedStore(store, metrics.raftkv, clock);
  const handlers = new RawKvHandlers({
    store: served,
    limits: options.limits,
    metrics: metrics.grpc,
    clock,
    logger: log,
  });
  const snapshot = createSnapshotHandler({
    sink: raftstoreSnapshotSink(store),
    maxConcurrentReceives: MAX_CONCURRENT_SNAPSHOT_RECEIVES,
    idleTimeoutMs: SNAPSHOT_RECEIVE_IDLE_TIMEOUT_MS,
    timers,
    onOutcome: (outcome) => {
      metrics.transport.snapshots.inc({ direction: "receive", outcome: outcome.ok ? "ok" : "failed" });
      if (!outcome.ok) log.warn({ regionId: outcome.regionId, reason: outcome.reason }, "snapshot refused");
    },
  });
  // Closers run newest first: receptions still in flight end after the gRPC server stopped taking
  // streams and before the raftstore closes under them.
  start.closers.push(() => snapshot.close());
  const grpc = new Server(grpcServerOptions(options.grpcMaxMessageBytes));
  grpc.addService(
    tikvpb.TikvService,
    createTikvService({
      store: served,
      handlers,
      txnHandlers: txnLayer.handlers,
      limits: options.limits,
      batchCommandsMaxInFlight: options.batchCommandsMaxInFlight,
      raftReceiver,
      snapshot,
      metrics: metrics.grpc,
      logger: log,
    }),
  );
  grpc.addService(deadlock.DeadlockService, txnLayer.deadlockService);
  const listen = parseHostPort(options.listenAddress, "server.addr");
  const port = await bindGrpcServer(grpc, listen.host, listen.port);
  start.closers.push(() => shutdownGrpcServer(grpc, GRPC_SHUTDOWN_GRACE_MS, timers));
  // Runs before the server's shutdown (closers run newest first): lock waiters end, so their RPCs answer.
  start.closers.push(() => txnLayer.close());
  return advertisedAddress(options.advertiseAddress, { host: listen.host, port });
}

/** Serves /status, /metrics and /health on `server.status-addr`; returns the address to advertise. */
async function serveStatus(start: StartContext, store: Store, address: string): Promise<string> {
  const { options } = start;
  const listen = parseHostPort(options.statusListenAddress, "server.status-addr");
  const status = await startStatusServer({
    host: listen.host,
    port: listen.port,
    component: "tikv-store",
    version: STORE_VERSION,
    metrics: start.registry,
    clock: start.clock,
    status: () => ({ storeId: store.storeId, address, stopping: start.stopping, ...store.storeStats() }),
    healthy: () => !start.stopping && store.fatalError === undefined,
  });
  start.closers.push(() => status.close());
  return advertisedAddress(options.advertiseStatusAddress, { host: listen.host, port: status.port });
}

/** The id recorded in the data directory, or a new one from pd for an empty directory. */
async function resolveStoreId(pd: PdClient, dataDir: string): Promise<bigint> {
  const ident = await Store.readIdent(dataDir);
  if (ident === undefined) return pd.allocId();
  if (ident.clusterId !== pd.clusterId)
    throw new StoreClusterMismatchError(dataDir, ident.clusterId, pd.clusterId);
  return ident.storeId;
}

/** Registers the store with pd, bootstrapping the cluster when pd has none yet (see the file comment). */
async function joinCluster(
  pd: PdClient,
  store: Store,
  storeMeta: metapb.Store,
  logger: Logger,
): Promise<void> {
  if (await pd.isBootstrapped()) {
    await finishInterruptedBootstrap(pd, store, logger);
  } else if (store.regionCount === 0 && (await tryBootstrap(pd, store, storeMeta, logger))) {
    return;
  }
  await pd.putStore(storeMeta);
}

async function tryBootstrap(
  pd: PdClient,
  store: Store,
  storeMeta: metapb.Store,
  logger: Logger,
): Promise<boolean> {
  const regionId = await pd.allocId();
  const peerId = await pd.allocId();
  const region = metapb.Region.fromPartial({
    id: regionId,
    regionEpoch: { confVer: 1n, version: 1n },
    peers: [{ id: peerId, storeId: store.storeId }],
  });
  try {
    await pd.bootstrap(storeMeta, region);
  } catch (error) {
    if (error instanceof PdServerError && error.errorType === pdpb.ErrorType.ALREADY_BOOTSTRAPPED) {
      logger.info("another store bootstrapped the cluster first; joining it");
      return false;
    }
    throw error;
  }
  await store.bootstrapFirstRegion(region);
  logger.info({ regionId, peerId }, "bootstrapped the cluster with the first region");
  return true;
}

/** pd holds the untouched first region on this store, which holds no region: the store crashed mid-bootstrap. */
async function finishInterruptedBootstrap(pd: PdClient, store: Store, logger: Logger): Promise<void> {
  if (store.regionCount > 0) return;
  const first = await pd.getRegion(new Uint8Array());
  const region = first?.region;
  const untouched =
    region !== undefined &&
    region.peers.length === 1 &&
    region.peers[0]!.storeId === store.storeId &&
    region.regionEpoch?.confVer === 1n &&
    region.regionEpoch.version === 1n;
  if (!untouched) return;
  logger.warn(
    { regionId: region.id },
    "finishing a bootstrap interrupted before the first region was written",
  );
  await store.bootstrapFirstRegion(region);
}

async function closeAll(closers: Closer[], logger: Logger): Promise<void> {
  for (const close of closers.splice(0).reverse()) {
    try {
      await close();
    } catch (error) {
      logger.warn({ err: error }, "closing a store component failed");
    }
  }
}
