/**
 * The pd client used by stores, gateways and tools. Every call goes to the pd leader (found from any member,
 * followed across NOT_LEADER hints and rediscovered after failures), has a deadline, and fails with a typed
 * error from pd-errors.ts. Timestamps are batched onto one stream (tso-batcher.ts).
 */
import { setMaxListeners } from "node:events";
import type { metapb } from "#proto";
import { pdpb } from "#proto";
import { sleep, TaskScope } from "#runtime";
import { ReconnectBackoff } from "../backoff/reconnect-backoff.ts";
import { PdChannels } from "./grpc-channels.ts";
import { type LeaderInvoker, LeaderRpc } from "./leader-rpc.ts";
import { MemberDiscovery } from "./member-discovery.ts";
import {
  type PdClientOptions,
  type ResolvedPdClientOptions,
  resolvePdClientOptions,
} from "./pd-client-options.ts";
import { PdClientClosedError, PdServerError, PdUnavailableError } from "./pd-errors.ts";
import { type RegionHeartbeatHandlers, RegionHeartbeatStream } from "./region-heartbeat-stream.ts";
import { TsoBatcher } from "./tso-batcher.ts";

export interface PdCallOptions {
  /** Overrides the client's requestTimeoutMs (tsoTimeoutMs for getTimestamp) for this call. */
  readonly timeoutMs?: number;
}

/** A region as pd sees it: its metadata, leader (when reported) and unhealthy peers. */
export interface PdRegion {
  readonly region: metapb.Region;
  readonly leader?: metapb.Peer;
  readonly downPeers: readonly pdpb.PeerStats[];
  readonly pendingPeers: readonly metapb.Peer[];
}

export interface PdMembers {
  readonly members: readonly pdpb.Member[];
  /** Unset while the members are electing one. */
  readonly leader?: pdpb.Member;
}

export interface PdStore {
  readonly store: metapb.Store;
  readonly stats?: pdpb.StoreStats;
}

export class PdClient {
  private readonly closeController = new AbortController();
  private readonly channels = new PdChannels();
  private readonly discovery: MemberDiscovery;
  private readonly rpc: LeaderRpc;
  private readonly tso: TsoBatcher;
  private readonly heartbeatStreams = new Set<RegionHeartbeatStream>();
  /** Stream (re)opening and member refreshes: started by no caller, so owned here and awaited by close. */
  private readonly tasks: TaskScope;

  private constructor(private readonly options: ResolvedPdClientOptions) {
    const closeSignal = this.closeController.signal;
    // Every unary call in flight and every backoff sleep listens for close; they are as many as the
    // caller's concurrent requests, so Node's default warning at 11 listeners would be a false alarm.
    setMaxListeners(0, closeSignal);
    this.tasks = new TaskScope({
      name: "pd client",
      onError: (error, task) =>
        options.logger?.error({ err: error, task }, "pd client background task failed"),
    });
    const common = {
      channels: this.channels,
      clock: options.clock,
      timers: options.timers,
      closeSignal,
      tasks: this.tasks,
    };
    this.discovery = new MemberDiscovery({
      ...common,
      seedAddresses: options.seedAddresses,
      memberTimeoutMs: options.memberTimeoutMs,
      expectedClusterId: options.clusterId,
      senderId: options.senderId,
      logger: options.logger,
    });
    const retrying = { ...common, random: options.random, backoff: options.reconnectBackoff };
    this.rpc = new LeaderRpc({
      ...retrying,
      discovery: this.discovery,
      senderId: options.senderId,
      maxAttempts: options.maxAttempts,
    });
    this.tso = new TsoBatcher({
      ...retrying,
      discovery: this.discovery,
      senderId: options.senderId,
      maxBatchSize: options.tsoMaxBatchSize,
      maxInFlightBatches: options.tsoMaxInFlightBatches,
      maxPendingRequests: options.tsoMaxPendingRequests,
      stallTimeoutMs: options.tsoTimeoutMs,
      discoveryTimeoutMs: options.requestTimeoutMs,
      logger: options.logger,
    });
  }

  /**
   * Finds the pd leader (retrying with backoff until connectTimeoutMs, since pd may still be starting) and
   * starts the periodic member refresh. Fails with PdUnavailableError naming every endpoint tried.
   */
  static async connect(options: PdClientOptions): Promise<PdClient> {
    const client = new PdClient(resolvePdClientOptions(options));
    try {
      await client.findLeader();
    } catch (error) {
      await client.close();
      throw error;
    }
    client.discovery.startRefreshing(client.options.memberRefreshIntervalMs);
    return client;
  }

  /** The cluster id learned from the first member that answered. */
  get clusterId(): bigint {
    return this.discovery.clusterId;
  }

  /** The address (host:port) of the pd leader as last known, if any. */
  get leaderAddress(): string | undefined {
    return this.discovery.leader;
  }

  /** A timestamp (`physical_ms << 18 | logical`, see #codec timestamp.ts) larger than any handed out before it. */
  getTimestamp(options?: PdCallOptions): Promise<bigint> {
    return this.tso.getTimestamp(options?.timeoutMs ?? this.options.tsoTimeoutMs);
  }

  async allocId(options?: PdCallOptions): Promise<bigint> {
    const response = await this.call<pdpb.AllocIDResponse>(
      "AllocID",
      options,
      (client, header) => (callback) => client.allocId({ header }, callback),
    );
    return response.id;
  }

  async getMembers(options?: PdCallOptions): Promise<PdMembers> {
    const response = await this.call<pdpb.GetMembersResponse>(
      "GetMembers",
      options,
      (client, header) => (callback) => client.getMembers({ header }, callback),
    );
    return { members: response.members, leader: response.leader };
  }

  async isBootstrapped(options?: PdCallOptions): Promise<boolean> {
    const response = await this.call<pdpb.IsBootstrappedResponse>(
      "IsBootstrapped",
      options,
      (client, header) => (callback) => client.isBootstrapped({ header }, callback),
    );
    return response.bootstrapped;
  }

  /** Creates the cluster with its first store and the region covering every key. */
  async bootstrap(store: metapb.Store, region: metapb.Region, options?: PdCallOptions): Promise<void> {
    await this.call<pdpb.BootstrapResponse>(
      "Bootstrap",
      options,
      (client, header) => (callback) => client.bootstrap({ header, store, region }, callback),
    );
  }

  async putStore(store: metapb.Store, options?: PdCallOptions): Promise<void> {
    await this.call<pdpb.PutStoreResponse>(
      "PutStore",
      options,
      (client, header) => (callback) => client.putStore({ header, store }, callback),
    );
  }

  /** undefined when pd knows no such store. */
  async getStore(storeId: bigint, options?: PdCallOptions): Promise<PdStore | undefined> {
    return this.unlessNotFound(pdpb.ErrorType.STORE_NOT_FOUND, async () => {
      const response = await this.call<pdpb.GetStoreResponse>(
        "GetStore",
        options,
        (client, header) => (callback) => client.getStore({ header, storeId }, callback),
      );
      return response.store === undefined ? undefined : { store: response.store, stats: response.stats };
    });
  }

  async getAllStores(
    options?: PdCallOptions & { readonly excludeTombstoneStores?: boolean },
  ): Promise<metapb.Store[]> {
    const excludeTombstoneStores = options?.excludeTombstoneStores ?? false;
    const response = await this.call<pdpb.GetAllStoresResponse>(
      "GetAllStores",
      options,
      (client, header) => (callback) => client.getAllStores({ header, excludeTombstoneStores }, callback),
    );
    return response.stores;
  }

  async storeHeartbeat(
    stats: pdpb.StoreStats,
    options?: PdCallOptions,
  ): Promise<{ readonly clusterVersion: string }> {
    const response = await this.call<pdpb.StoreHeartbeatResponse>(
      "StoreHeartbeat",
      options,
      (client, header) => (callback) => client.storeHeartbeat({ header, stats }, callback),
    );
    return { clusterVersion: response.clusterVersion };
  }

  /** The region containing `key`; undefined when pd has none (the cluster is not bootstrapped). */
  async getRegion(key: Uint8Array, options?: PdCallOptions): Promise<PdRegion | undefined> {
    return this.unlessNotFound(pdpb.ErrorType.REGION_NOT_FOUND, async () =>
      toPdRegion(
        await this.call<pdpb.GetRegionResponse>(
          "GetRegion",
          options,
          (client, header) => (callback) => client.getRegion({ header, regionKey: key }, callback),
        ),
      ),
    );
  }

  async getRegionById(regionId: bigint, options?: PdCallOptions): Promise<PdRegion | undefined> {
    return this.unlessNotFound(pdpb.ErrorType.REGION_NOT_FOUND, async () =>
      toPdRegion(
        await this.call<pdpb.GetRegionResponse>(
          "GetRegionByID",
          options,
          (client, header) => (callback) => client.getRegionById({ header, regionId }, callback),
        ),
      ),
    );
  }

  /**
   * Regions in key order from the one containing `startKey`, up to `endKey` (exclusive; empty = no end),
   * at most `limit` of them (0 = no limit).
   */
  async scanRegions(
    startKey: Uint8Array,
    endKey: Uint8Array,
    limit: number,
    options?: PdCallOptions,
  ): Promise<PdRegion[]> {
    if (!Number.isInteger(limit) || limit < 0 || limit > 2 ** 31 - 1) {
      throw new RangeError(`scanRegions limit must be an int32 >= 0, got ${limit}`);
    }
    const response = await this.call<pdpb.ScanRegionsResponse>(
      "ScanRegions",
      options,
      (client, header) => (callback) => client.scanRegions({ header, startKey, endKey, limit }, callback),
    );
    return response.regions.flatMap((info) => {
      const region = toPdRegion(info);
      return region === undefined ? [] : [region];
    });
  }

  /** Ids for `splitCount` new regions split off `region`: one region id and one peer id per parent peer each. */
  async askBatchSplit(
    region: metapb.Region,
    splitCount: number,
    options?: PdCallOptions,
  ): Promise<pdpb.SplitID[]> {
    const response = await this.call<pdpb.AskBatchSplitResponse>(
      "AskBatchSplit",
      options,
      (client, header) => (callback) => client.askBatchSplit({ header, region, splitCount }, callback),
    );
    return response.ids;
  }

  /** Every region a split produced, the parent included. */
  async reportBatchSplit(regions: readonly metapb.Region[], options?: PdCallOptions): Promise<void> {
    await this.call<pdpb.ReportBatchSplitResponse>(
      "ReportBatchSplit",
      options,
      (client, header) => (callback) => client.reportBatchSplit({ header, regions: [...regions] }, callback),
    );
  }

  async getGcSafePoint(options?: PdCallOptions): Promise<bigint> {
    const response = await this.call<pdpb.GetGCSafePointResponse>(
      "GetGCSafePoint",
      options,
      (client, header) => (callback) => client.getGcSafePoint({ header }, callback),
    );
    return response.safePoint;
  }

  /** Returns the safe point now in force, which is never lower than before (a lower value is ignored). */
  async updateGcSafePoint(safePoint: bigint, options?: PdCallOptions): Promise<bigint> {
    const response = await this.call<pdpb.UpdateGCSafePointResponse>(
      "UpdateGCSafePoint",
      options,
      (client, header) => (callback) => client.updateGcSafePoint({ header, safePoint }, callback),
    );
    return response.newSafePoint;
  }

  /** Opens (and keeps open until closed) a region heartbeat stream to the pd leader; see its file. */
  regionHeartbeatStream(handlers: RegionHeartbeatHandlers): RegionHeartbeatStream {
    this.throwIfClosed("open a region heartbeat stream");
    const stream = new RegionHeartbeatStream(
      {
        discovery: this.discovery,
        channels: this.channels,
        clock: this.options.clock,
        timers: this.options.timers,
        random: this.options.random,
        backoff: this.options.reconnectBackoff,
        senderId: this.options.senderId,
        discoveryTimeoutMs: this.options.requestTimeoutMs,
        maxBufferedHeartbeats: this.options.maxBufferedHeartbeats,
        closeSignal: this.closeController.signal,
        tasks: this.tasks,
        logger: this.options.logger,
        onClosed: () => this.heartbeatStreams.delete(stream),
      },
      handlers,
    );
    this.heartbeatStreams.add(stream);
    return stream;
  }

  /**
   * Stops every loop, timer and stream, and resolves once the background work they started has ended;
   * pending calls fail with PdClientClosedError. Idempotent.
   */
  async close(): Promise<void> {
    if (!this.closeController.signal.aborted) {
      this.closeController.abort(new PdClientClosedError("finish the call"));
      this.tso.close();
      for (const stream of this.heartbeatStreams) stream.close();
      this.heartbeatStreams.clear();
      this.discovery.close();
      this.channels.closeAll();
    }
    await this.tasks.close();
  }

  private call<Response extends { header?: pdpb.ResponseHeader | undefined }>(
    operation: string,
    options: PdCallOptions | undefined,
    invoke: LeaderInvoker<Response>,
  ): Promise<Response> {
    this.throwIfClosed(operation);
    return this.rpc.call(operation, options?.timeoutMs ?? this.options.requestTimeoutMs, invoke);
  }

  private async unlessNotFound<T>(
    notFound: pdpb.ErrorType,
    lookup: () => Promise<T | undefined>,
  ): Promise<T | undefined> {
    try {
      return await lookup();
    } catch (error) {
      if (error instanceof PdServerError && error.errorType === notFound) return undefined;
      throw error;
    }
  }

  private async findLeader(): Promise<void> {
    const { clock, connectTimeoutMs } = this.options;
    const deadlineAtMs = clock.monotonicMs() + connectTimeoutMs;
    const backoff = new ReconnectBackoff(this.options.reconnectBackoff, this.options.random);
    const tried = new Set<string>();
    for (;;) {
      try {
        await this.discovery.discover(deadlineAtMs);
        return;
      } catch (error) {
        if (!(error instanceof PdUnavailableError)) throw error;
        for (const endpoint of error.endpoints) tried.add(endpoint);
        const remainingMs = deadlineAtMs - clock.monotonicMs();
        if (remainingMs > 0) {
          await sleep(
            Math.min(backoff.nextDelayMs(), remainingMs),
            this.options.timers,
            this.closeController.signal,
          );
        }
        if (clock.monotonicMs() >= deadlineAtMs) {
          throw new PdUnavailableError({
            operation: "connect",
            endpoints: [...tried],
            lastCause: error.lastCause,
          });
        }
      }
    }
  }

  private throwIfClosed(operation: string): void {
    if (this.closeController.signal.aborted) throw new PdClientClosedError(operation);
  }
}

function toPdRegion(info: {
  readonly region?: metapb.Region | undefined;
  readonly leader?: metapb.Peer | undefined;
  readonly downPeers: readonly pdpb.PeerStats[];
  readonly pendingPeers: readonly metapb.Peer[];
}): PdRegion | undefined {
  if (info.region === undefined) return undefined;
  return {
    region: info.region,
    leader: info.leader,
    downPeers: info.downPeers,
    pendingPeers: info.pendingPeers,
  };
}
