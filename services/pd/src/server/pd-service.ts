/**
 * The gRPC `pdpb.PD` service. Every request passes the same gate: its header must name this cluster
 * (GetMembers may send 0 to learn the id), and every RPC except GetMembers is leader-only, answered by a
 * follower with NOT_LEADER and the leader's address. Failures become pdpb errors in the response header;
 * no request can crash the server.
 */
import {
  type handleBidiStreamingCall,
  type handleUnaryCall,
  type ServerDuplexStream,
  status,
} from "@grpc/grpc-js";
import type { Logger, MetricFactory } from "#observability";
import { pdpb } from "#proto";
import type { ClusterBootstrapper } from "../cluster/bootstrap.ts";
import { RegionNotFoundError, StoreNotFoundError } from "../cluster/cluster-errors.ts";
import { type ClusterState, regionInfoFromHeartbeat } from "../cluster/cluster-state.ts";
import type { RegionInfo } from "../cluster/cluster-view.ts";
import type { GcSafePoint } from "../cluster/gc-safe-point.ts";
import { validateRegion } from "../cluster/metadata-validation.ts";
import { isEpochStale, StaleRegionError } from "../cluster/region-tree.ts";
import type { IdAllocator } from "../id/id-allocator.ts";
import type { Election } from "../storage/index.ts";
import type { TsoAllocator } from "../tso/tso-allocator.ts";
import type { HeartbeatStreams, HeartbeatStreamWriter } from "./heartbeat-streams.ts";
import type { LeaderGuard } from "./leader-guard.ts";
import { ClusterMismatchError, InvalidArgumentError, toMember, toPdError } from "./pd-errors.ts";
import { SerialTaskQueue } from "./serial-task-queue.ts";

/** The part of the scheduling coordinator the heartbeat stream needs. */
export interface RegionOperatorSource {
  onRegionHeartbeat(region: RegionInfo): pdpb.RegionHeartbeatResponse | undefined;
}

export interface PdServiceDependencies {
  readonly clusterId: bigint;
  readonly guard: LeaderGuard;
  readonly election: Election;
  readonly cluster: ClusterState;
  readonly bootstrapper: ClusterBootstrapper;
  readonly ids: IdAllocator;
  readonly tso: TsoAllocator;
  readonly gcSafePoint: GcSafePoint;
  /** The coordinator of the current leader term, if scheduling runs. */
  readonly operators: () => RegionOperatorSource | undefined;
  /** Where each store's heartbeat stream is registered, so pd can send it an operator step unasked. */
  readonly heartbeatStreams: HeartbeatStreams;
  readonly logger: Logger;
  readonly metrics: MetricFactory;
}

/** Requests one stream may have waiting; a client that exceeds it gets RESOURCE_EXHAUSTED. */
export const MAX_PENDING_STREAM_REQUESTS = 4096;
/** Regions one AskBatchSplit may create. */
export const MAX_SPLIT_COUNT = 1000;

/** What a handler returns; `fromPartial` fills unset fields with their proto3 defaults. */
type Body<Response> = Partial<Omit<Response, "header">>;
interface WithRequestHeader {
  readonly header?: pdpb.RequestHeader | undefined;
}

export function createPdService(dependencies: PdServiceDependencies): pdpb.PDServer {
  const gate = new RequestGate(dependencies);
  const { cluster } = dependencies;
  return {
    getMembers: gate.unary("GetMembers", "any", pdpb.GetMembersResponse, async () => ({
      members: (await dependencies.election.members()).map(toMember),
      leader: optionalMember(dependencies.election.leader()),
    })),
    tso: tsoStream(gate, dependencies),
    bootstrap: gate.unary(
      "Bootstrap",
      "leader",
      pdpb.BootstrapResponse,
      async (request: pdpb.BootstrapRequest) => {
        await dependencies.bootstrapper.bootstrap(request);
        return {};
      },
    ),
    isBootstrapped: gate.unary("IsBootstrapped", "leader", pdpb.IsBootstrappedResponse, async () => ({
      bootstrapped: dependencies.bootstrapper.isBootstrapped(),
    })),
    allocId: gate.unary("AllocID", "leader", pdpb.AllocIDResponse, async () => ({
      id: await dependencies.ids.allocate(),
    })),
    getStore: gate.unary(
      "GetStore",
      "leader",
      pdpb.GetStoreResponse,
      async (request: pdpb.GetStoreRequest) => {
        const store = cluster.store(request.storeId);
        if (store === undefined) throw new StoreNotFoundError(request.storeId);
        return { store: store.meta, stats: store.stats };
      },
    ),
    putStore: gate.unary(
      "PutStore",
      "leader",
      pdpb.PutStoreResponse,
      async (request: pdpb.PutStoreRequest) => {
        await cluster.putStore(request.store);
        return {};
      },
    ),
    getAllStores: gate.unary(
      "GetAllStores",
      "leader",
      pdpb.GetAllStoresResponse,
      async (request: pdpb.GetAllStoresRequest) => ({
        stores: cluster
          .stores()
          .filter((store) => !request.excludeTombstoneStores || store.health !== "tombstone")
          .map((store) => store.meta),
      }),
    ),
    storeHeartbeat: gate.unary(
      "StoreHeartbeat",
      "leader",
      pdpb.StoreHeartbeatResponse,
      async (request: pdpb.StoreHeartbeatRequest) => {
        await cluster.storeHeartbeat(request.stats);
        return { clusterVersion: "" };
      },
    ),
    regionHeartbeat: regionHeartbeatStream(gate, dependencies),
    getRegion: gate.unary(
      "GetRegion",
      "leader",
      pdpb.GetRegionResponse,
      async (request: pdpb.GetRegionRequest) =>
        regionResponse(
          cluster.regionByKey(request.regionKey),
          () => `no region holds key ${hexKey(request.regionKey)}`,
        ),
    ),
    getRegionById: gate.unary(
      "GetRegionByID",
      "leader",
      pdpb.GetRegionResponse,
      async (request: pdpb.GetRegionByIDRequest) =>
        regionResponse(cluster.region(request.regionId), () => `no region with id ${request.regionId}`),
    ),
    scanRegions: gate.unary(
      "ScanRegions",
      "leader",
      pdpb.ScanRegionsResponse,
      async (request: pdpb.ScanRegionsRequest) => scanRegions(cluster, request),
    ),
    askBatchSplit: gate.unary(
      "AskBatchSplit",
      "leader",
      pdpb.AskBatchSplitResponse,
      async (request: pdpb.AskBatchSplitRequest) => askBatchSplit(dependencies, request),
    ),
    reportBatchSplit: gate.unary(
      "ReportBatchSplit",
      "leader",
      pdpb.ReportBatchSplitResponse,
      async (request: pdpb.ReportBatchSplitRequest) => {
        await cluster.reportSplit(request.regions);
        return {};
      },
    ),
    getGcSafePoint: gate.unary("GetGCSafePoint", "leader", pdpb.GetGCSafePointResponse, async () => ({
      safePoint: dependencies.gcSafePoint.value,
    })),
    updateGcSafePoint: gate.unary(
      "UpdateGCSafePoint",
      "leader",
      pdpb.UpdateGCSafePointResponse,
      async (request: pdpb.UpdateGCSafePointRequest) => ({
        newSafePoint: await dependencies.gcSafePoint.update(request.safePoint),
      }),
    ),
  };
}

/** Cluster id check, leader check, error mapping and metrics shared by every RPC. */
class RequestGate {
  private readonly requests;
  private readonly durations;

  constructor(private readonly dependencies: PdServiceDependencies) {
    this.requests = dependencies.metrics.counter({
      subsystem: "grpc",
      name: "requests",
      unit: "total",
      help: "pd gRPC requests (stream messages count one each) by method and pdpb error type",
      labelNames: ["method", "result"] as const,
    });
    this.durations = dependencies.metrics.histogram({
      subsystem: "grpc",
      name: "request_duration",
      unit: "seconds",
      help: "Time pd spends on one gRPC request or stream message, by method",
      labelNames: ["method"] as const,
    });
  }

  /** Runs `handle` behind the gate and always produces a response (an error header on failure). */
  async run<Request extends WithRequestHeader, Response>(
    method: string,
    access: "any" | "leader",
    request: Request,
    messages: { fromPartial(object: object): Response },
    handle: (request: Request) => Promise<Body<Response>>,
  ): Promise<Response> {
    const stopTimer = this.durations.startTimer({ method });
    try {
      this.checkClusterId(request.header, access === "any");
      if (access === "leader") await this.dependencies.guard.ensureLeader();
      const body = await handle(request);
      this.requests.inc({ method, result: "ok" });
      return messages.fromPartial({ ...body, header: this.header(undefined) });
    } catch (error) {
      const pdError = toPdError(error, () => this.dependencies.election.leader());
      this.requests.inc({ method, result: pdpb.errorTypeToJSON(pdError.type) });
      if (pdError.type === pdpb.ErrorType.UNKNOWN) {
        this.dependencies.logger.error({ err: error, method }, "pd request failed unexpectedly");
      }
      return messages.fromPartial({ header: this.header(pdError) });
    } finally {
      stopTimer();
    }
  }

  unary<Request extends WithRequestHeader, Response>(
    method: string,
    access: "any" | "leader",
    messages: { fromPartial(object: object): Response },
    handle: (request: Request) => Promise<Body<Response>>,
  ): handleUnaryCall<Request, Response> {
    return (call, callback) => {
      // `run` turns every failure into an error header, so this never rejects: the caller always hears.
      void this.run(method, access, call.request, messages, handle).then((response) =>
        callback(null, response),
      );
    };
  }

  header(error: pdpb.Error | undefined): pdpb.ResponseHeader {
    return { clusterId: this.dependencies.clusterId, error };
  }

  private checkClusterId(header: pdpb.RequestHeader | undefined, allowUnset: boolean): void {
    const requested = header?.clusterId ?? 0n;
    if (requested === this.dependencies.clusterId || (requested === 0n && allowUnset)) return;
    throw new ClusterMismatchError(requested, this.dependencies.clusterId);
  }
}

function tsoStream(
  gate: RequestGate,
  dependencies: PdServiceDependencies,
): handleBidiStreamingCall<pdpb.TsoRequest, pdpb.TsoResponse> {
  const timestamps = dependencies.metrics.counter({
    subsystem: "tso",
    name: "timestamps",
    unit: "total",
    help: "Timestamps handed out by this pd member",
  });
  return (call) =>
    serveStream(call, async (request) => {
      const response = await gate.run("Tso", "leader", request, pdpb.TsoResponse, async (tsoRequest) => ({
        count: tsoRequest.count,
        timestamp: await dependencies.tso.allocate(tsoRequest.count),
      }));
      if (response.header?.error === undefined) timestamps.inc(request.count);
      return response;
    });
}

function regionHeartbeatStream(
  gate: RequestGate,
  dependencies: PdServiceDependencies,
): handleBidiStreamingCall<pdpb.RegionHeartbeatRequest, pdpb.RegionHeartbeatResponse> {
  return (call) => {
    const writer: HeartbeatStreamWriter = {
      send: (response) => {
        if (!isWritable(call)) return false;
        call.write({ ...response, header: gate.header(undefined) });
        return true;
      },
    };
    const handle = async (request: pdpb.RegionHeartbeatRequest) => {
      let operator: pdpb.RegionHeartbeatResponse | undefined;
      const response = await gate.run(
        "RegionHeartbeat",
        "leader",
        request,
        pdpb.RegionHeartbeatResponse,
        async (heartbeat) => {
          const info = regionInfoFromHeartbeat(heartbeat);
          await dependencies.cluster.regionHeartbeat(info, heartbeat.term);
          // Bound before the coordinator runs: an operator it starts now can already reach this store.
          if (info.leader !== undefined) dependencies.heartbeatStreams.bind(info.leader.storeId, writer);
          operator = dependencies.operators()?.onRegionHeartbeat(info);
          return {};
        },
      );
      if (response.header?.error !== undefined) return { ...response, regionId: request.region?.id ?? 0n };
      // The stream only answers a healthy heartbeat when there is an operator step to deliver.
      return operator === undefined ? undefined : { ...operator, header: gate.header(undefined) };
    };
    serveStream(call, handle, () => dependencies.heartbeatStreams.unbind(writer));
  };
}

/**
 * Serves a bidirectional stream in request order. The stream ends when the client half-closes (after the
 * queued replies) or is cancelled; a client that floods it past the bound is cut off with RESOURCE_EXHAUSTED.
 * `onFinished` runs once when the stream can take no more replies.
 */
function serveStream<Request, Response>(
  call: ServerDuplexStream<Request, Response>,
  handle: (request: Request) => Promise<Response | undefined>,
  onFinished?: () => void,
): void {
  const queue = new SerialTaskQueue(MAX_PENDING_STREAM_REQUESTS);
  let finished = false;
  const finish = (): void => {
    if (finished) return;
    finished = true;
    onFinished?.();
  };
  const fail = (code: status, details: string): void => {
    // grpc-js turns an "error" event on a server stream into the call's final status.
    if (isWritable(call)) call.emit("error", { code, details });
    finish();
  };
  call.on("data", (request: Request) => {
    const accepted = queue.push(async () => {
      try {
        const response = await handle(request);
        if (response !== undefined && isWritable(call)) call.write(response);
      } catch (error) {
        // Handlers answer failures in their replies; reaching here is a bug, and the client must hear of it.
        fail(status.INTERNAL, error instanceof Error ? error.message : String(error));
      }
    });
    if (!accepted)
      fail(
        status.RESOURCE_EXHAUSTED,
        `more than ${MAX_PENDING_STREAM_REQUESTS} requests pending on one stream`,
      );
  });
  call.on("end", () => {
    // The queue's tasks never reject (see above), so whenIdle always resolves.
    void queue.whenIdle().then(() => {
      if (isWritable(call)) call.end();
      finish();
    });
  });
  call.on("cancelled", finish);
  // A client that goes away mid-stream is normal; its pending replies are dropped by `isWritable`.
  call.on("error", finish);
}

function isWritable(call: ServerDuplexStream<unknown, unknown>): boolean {
  return !call.cancelled && !call.writableEnded && !call.destroyed;
}

function regionResponse(
  region: RegionInfo | undefined,
  describe: () => string,
): Body<pdpb.GetRegionResponse> {
  if (region === undefined) throw new RegionNotFoundError(describe());
  return {
    region: region.meta,
    leader: region.leader,
    downPeers: [...region.downPeers],
    pendingPeers: [...region.pendingPeers],
  };
}

function scanRegions(
  cluster: ClusterState,
  request: pdpb.ScanRegionsRequest,
): Body<pdpb.ScanRegionsResponse> {
  if (request.limit < 0) throw new InvalidArgumentError(`scan limit must be >= 0, got ${request.limit}`);
  if (request.endKey.length > 0 && Buffer.compare(request.startKey, request.endKey) > 0) {
    throw new InvalidArgumentError(
      `scan start key ${hexKey(request.startKey)} is above end key ${hexKey(request.endKey)}`,
    );
  }
  return {
    regions: cluster.scanRegions(request.startKey, request.endKey, request.limit).map((region) => ({
      region: region.meta,
      leader: region.leader,
      downPeers: [...region.downPeers],
      pendingPeers: [...region.pendingPeers],
    })),
  };
}

async function askBatchSplit(
  dependencies: PdServiceDependencies,
  request: pdpb.AskBatchSplitRequest,
): Promise<Body<pdpb.AskBatchSplitResponse>> {
  validateRegion(request.region);
  const region = request.region;
  if (
    !Number.isInteger(request.splitCount) ||
    request.splitCount < 1 ||
    request.splitCount > MAX_SPLIT_COUNT
  ) {
    throw new InvalidArgumentError(
      `split count must be in [1, ${MAX_SPLIT_COUNT}], got ${request.splitCount}`,
    );
  }
  const known = dependencies.cluster.region(region.id);
  if (known === undefined) throw new RegionNotFoundError(`no region with id ${region.id} to split`);
  if (isEpochStale(region.regionEpoch, known.meta.regionEpoch!)) {
    throw new StaleRegionError(region.id, region.regionEpoch, region.id, known.meta.regionEpoch!);
  }
  const idsPerRegion = 1 + region.peers.length;
  const ids = await dependencies.ids.allocateMany(request.splitCount * idsPerRegion);
  const splits: pdpb.SplitID[] = [];
  for (let index = 0; index < request.splitCount; index++) {
    const slice = ids.slice(index * idsPerRegion, (index + 1) * idsPerRegion);
    splits.push({ newRegionId: slice[0]!, newPeerIds: slice.slice(1) });
  }
  return { ids: splits };
}

function optionalMember(member: Parameters<typeof toMember>[0] | undefined): pdpb.Member | undefined {
  return member === undefined ? undefined : toMember(member);
}

function hexKey(key: Uint8Array): string {
  return key.length === 0 ? '""' : Buffer.from(key).toString("hex");
}
