/**
 * pd's HTTP API (`/pd/api/v1/...`), used by `npm run ctl -- pd ...` and people with curl, served next to
 * `/status`, `/metrics` and `/health` on the HTTP port [2378].
 *
 * Conventions: JSON field names are the proto field names (snake_case); 64-bit ids and sizes are decimal
 * strings; keys are lower-case hex. Errors are `{"error": "..."}` with 400 (bad input), 404 (unknown
 * store/region/scheduler), 409 (conflicting operator) or 503 (no leader). Leader-only routes on a
 * follower answer 307 with `Location` at the same path on the leader (fetch and curl -L follow it).
 *
 * Routes:
 *   GET  /pd/api/v1/members                       members and leader (any member)
 *   GET  /pd/api/v1/health                        per-member health (any member)
 *   GET  /pd/api/v1/stores                        all stores with health and load
 *   GET  /pd/api/v1/store/{id}
 *   DELETE /pd/api/v1/store/{id}                  start removing the store (offline, then tombstone)
 *   POST /pd/api/v1/store/{id}/evict-leader       move every leader off the store; DELETE stops it
 *   GET  /pd/api/v1/regions?key=&end_key=&limit=  regions in key order (limit default 1000, 0 = all)
 *   GET  /pd/api/v1/region/id/{id}
 *   GET  /pd/api/v1/region/key/{key}[?format=hex] the region holding {key}; {key} is the URL-encoded key
 *                                                 as UTF-8 text, or hex with ?format=hex (binary keys)
 *   GET  /pd/api/v1/operators                     running and recently finished operators
 *   POST /pd/api/v1/operators                     {"name": "transfer-leader", "region_id": 2, "to_store_id": 3}
 *                                                 {"name": "add-peer", "region_id": 2, "store_id": 3}
 *                                                 {"name": "remove-peer", "region_id": 2, "store_id": 3}
 *                                                 {"name": "split-region", "region_id": 2, "keys": ["hex", ...]}
 *   GET  /pd/api/v1/schedulers
 *   POST /pd/api/v1/schedulers/{name}/pause       {"delay": seconds} (default 3600); /resume undoes it
 */
import type { Registry } from "prom-client";
import { metapb, type pdpb } from "#proto";
import type { Clock } from "#runtime";
import type { ClusterState } from "../cluster/cluster-state.ts";
import type { RegionInfo, StoreInfo } from "../cluster/cluster-view.ts";
import { type Coordinator, ScheduleRequestError } from "../schedule/index.ts";
import type { Election, MemberInfo } from "../storage/index.ts";
import { HttpError, type HttpRequest, type HttpResponse, type HttpRoute } from "./http-server.ts";
import { type LeaderGuard, NotLeaderServingError } from "./leader-guard.ts";
import { parseOperatorRequest } from "./operator-request.ts";

export interface PdHttpDependencies {
  readonly clusterId: bigint;
  readonly self: MemberInfo;
  readonly guard: LeaderGuard;
  readonly election: Election;
  readonly cluster: ClusterState;
  readonly coordinator: () => Coordinator | undefined;
}

const API = "/pd/api/v1";
const DEFAULT_REGION_LIMIT = 1000;
const DEFAULT_PAUSE_SECONDS = 3600;
const MEMBER_HEALTH_TIMEOUT_MS = 1_000;

/** `api()` is undefined until pd has opened its backend; routes then answer 503. */
export function createPdHttpRoutes(
  api: () => PdHttpDependencies | undefined,
  host: { readonly registry: Registry; readonly clock: Clock },
): HttpRoute[] {
  const startedAtMs = host.clock.nowMs();
  const needApi = (): PdHttpDependencies => {
    const dependencies = api();
    if (dependencies === undefined) throw new HttpError(503, "pd is starting");
    return dependencies;
  };
  const anyMember = (
    method: HttpRoute["method"],
    pattern: string,
    handle: (dependencies: PdHttpDependencies, request: HttpRequest) => Promise<unknown> | unknown,
  ): HttpRoute => ({
    method,
    pattern,
    handle: async (request) => asResponse(await handle(needApi(), request)),
  });
  const leaderOnly = (
    method: HttpRoute["method"],
    pattern: string,
    handle: (dependencies: PdHttpDependencies, request: HttpRequest) => Promise<unknown> | unknown,
  ): HttpRoute => ({
    method,
    pattern,
    handle: async (request) => {
      const dependencies = needApi();
      const redirect = await leaderRedirect(dependencies, request);
      if (redirect !== undefined) return redirect;
      try {
        return asResponse(await handle(dependencies, request));
      } catch (error) {
        throw error instanceof ScheduleRequestError ? scheduleHttpError(error) : error;
      }
    },
  });

  return [
    {
      method: "GET",
      pattern: "/status",
      handle: () => {
        const dependencies = api();
        return {
          body: {
            component: "pd",
            clusterId: dependencies?.clusterId,
            name: dependencies?.self.name,
            leader: dependencies?.election.leader()?.name,
            isLeader: dependencies?.guard.isReady ?? false,
            startTime: new Date(startedAtMs).toISOString(),
          },
        };
      },
    },
    {
      method: "GET",
      pattern: "/health",
      handle: () =>
        api() === undefined ? { status: 503, body: { status: "starting" } } : { body: { status: "ok" } },
    },
    {
      method: "GET",
      pattern: "/metrics",
      handle: async () => ({ body: await host.registry.metrics(), contentType: host.registry.contentType }),
    },
    anyMember("GET", `${API}/members`, async (dependencies) => ({
      cluster_id: dependencies.clusterId,
      members: (await dependencies.election.members()).map(memberJson),
      leader: optional(dependencies.election.leader(), memberJson),
    })),
    anyMember("GET", `${API}/health`, async (dependencies) => memberHealth(dependencies)),
    leaderOnly("GET", `${API}/stores`, (dependencies) => {
      const stores = dependencies.cluster.stores();
      return { count: stores.length, stores: stores.map(storeJson) };
    }),
    leaderOnly("GET", `${API}/store/{id}`, (dependencies, request) =>
      storeJson(findStore(dependencies, request)),
    ),
    leaderOnly("DELETE", `${API}/store/{id}`, async (dependencies, request) =>
      storeJson(await dependencies.cluster.removeStore(findStore(dependencies, request).meta.id)),
    ),
    leaderOnly("POST", `${API}/store/{id}/evict-leader`, (dependencies, request) => {
      const store = findStore(dependencies, request);
      needCoordinator(dependencies).evictLeaders(store.meta.id);
      return { store_id: store.meta.id, evicting_leaders: true };
    }),
    leaderOnly("DELETE", `${API}/store/{id}/evict-leader`, (dependencies, request) => {
      const store = findStore(dependencies, request);
      needCoordinator(dependencies).stopEvictingLeaders(store.meta.id);
      return { store_id: store.meta.id, evicting_leaders: false };
    }),
    leaderOnly("GET", `${API}/regions`, (dependencies, request) => listRegions(dependencies, request)),
    leaderOnly("GET", `${API}/region/id/{id}`, (dependencies, request) => {
      const id = parseId(request.params.id!, "region id");
      const region = dependencies.cluster.region(id);
      if (region === undefined) throw new HttpError(404, `region ${id} not found`);
      return regionJson(region);
    }),
    leaderOnly("GET", `${API}/region/key/{key}`, (dependencies, request) => {
      const key = parseKey(request.params.key!, request.url.searchParams.get("format") ?? "utf8");
      const region = dependencies.cluster.regionByKey(key);
      if (region === undefined) throw new HttpError(404, `no region holds key ${hex(key)}`);
      return regionJson(region);
    }),
    leaderOnly("GET", `${API}/operators`, (dependencies) => {
      const coordinator = needCoordinator(dependencies);
      return { operators: coordinator.operators(), history: coordinator.operatorHistory() };
    }),
    leaderOnly("POST", `${API}/operators`, async (dependencies, request) => ({
      operator: await needCoordinator(dependencies).addOperator(
        parseOperatorRequest(parseJson(request.body)),
      ),
    })),
    leaderOnly("GET", `${API}/schedulers`, (dependencies) => ({
      schedulers: needCoordinator(dependencies).schedulers(),
    })),
    leaderOnly("POST", `${API}/schedulers/{name}/pause`, (dependencies, request) => {
      const body = request.body.trim() === "" ? {} : parseJson(request.body);
      const delay = (body as { delay?: unknown }).delay ?? DEFAULT_PAUSE_SECONDS;
      if (typeof delay !== "number" || !Number.isFinite(delay) || delay <= 0) {
        throw new HttpError(
          400,
          `"delay" must be a positive number of seconds, got ${JSON.stringify(delay)}`,
        );
      }
      needCoordinator(dependencies).pauseScheduler(request.params.name!, delay);
      return { scheduler: request.params.name, paused_seconds: delay };
    }),
    leaderOnly("POST", `${API}/schedulers/{name}/resume`, (dependencies, request) => {
      needCoordinator(dependencies).resumeScheduler(request.params.name!);
      return { scheduler: request.params.name, paused_seconds: 0 };
    }),
  ];
}

/** Leader-only routes on a follower point the caller at the leader instead of answering from stale state. */
async function leaderRedirect(
  dependencies: PdHttpDependencies,
  request: HttpRequest,
): Promise<HttpResponse | undefined> {
  try {
    await dependencies.guard.ensureLeader();
    return undefined;
  } catch (error) {
    if (!(error instanceof NotLeaderServingError)) throw error;
    const leader = dependencies.election.leader();
    const leaderHttpUrl = leader?.httpUrls[0];
    if (
      leader === undefined ||
      leaderHttpUrl === undefined ||
      leader.memberId === dependencies.self.memberId
    ) {
      throw new HttpError(503, "this pd member is not the ready leader and no other leader is known");
    }
    const location = new URL(request.url.pathname + request.url.search, leaderHttpUrl).toString();
    return {
      status: 307,
      headers: { location },
      body: {
        error: `this pd member is not the leader; the leader is ${leader.name}`,
        leader: memberJson(leader),
      },
    };
  }
}

async function memberHealth(dependencies: PdHttpDependencies): Promise<unknown> {
  const members = await dependencies.election.members();
  return Promise.all(
    members.map(async (member) => ({
      ...memberJson(member),
      health: member.memberId === dependencies.self.memberId ? true : await probeHealth(member.httpUrls[0]),
    })),
  );
}

async function probeHealth(httpUrl: string | undefined): Promise<boolean> {
  if (httpUrl === undefined) return false;
  try {
    const response = await fetch(new URL("/health", httpUrl), {
      signal: AbortSignal.timeout(MEMBER_HEALTH_TIMEOUT_MS),
    });
    return response.ok;
  } catch {
    return false;
  }
}

function listRegions(dependencies: PdHttpDependencies, request: HttpRequest): unknown {
  const search = request.url.searchParams;
  const startKey = parseKey(search.get("key") ?? "", "hex");
  const endKey = parseKey(search.get("end_key") ?? "", "hex");
  const limitText = search.get("limit");
  const limit = limitText === null ? DEFAULT_REGION_LIMIT : Number(limitText);
  if (!Number.isSafeInteger(limit) || limit < 0)
    throw new HttpError(400, `"limit" must be >= 0, got ${limitText}`);
  const regions = dependencies.cluster.scanRegions(startKey, endKey, limit);
  return { count: dependencies.cluster.regionCount, regions: regions.map(regionJson) };
}

function findStore(dependencies: PdHttpDependencies, request: HttpRequest): StoreInfo {
  const id = parseId(request.params.id!, "store id");
  const store = dependencies.cluster.store(id);
  if (store === undefined) throw new HttpError(404, `store ${id} not found`);
  return store;
}

function needCoordinator(dependencies: PdHttpDependencies): Coordinator {
  const coordinator = dependencies.coordinator();
  if (coordinator === undefined) throw new HttpError(503, "scheduling is not running on this pd member");
  return coordinator;
}

function scheduleHttpError(error: ScheduleRequestError): HttpError {
  const statusByCode = {
    "region-not-found": 404,
    "store-not-found": 404,
    "scheduler-not-found": 404,
    "invalid-argument": 400,
    conflict: 409,
  } as const;
  return new HttpError(statusByCode[error.code], error.message);
}

function parseId(text: string, what: string): bigint {
  if (!/^\d{1,20}$/.test(text) || BigInt(text) === 0n || BigInt(text) >= 1n << 64n) {
    throw new HttpError(400, `${what} must be a positive 64-bit integer, got "${text}"`);
  }
  return BigInt(text);
}

function parseKey(text: string, format: string): Uint8Array {
  if (format === "utf8") return new TextEncoder().encode(text);
  if (format !== "hex") throw new HttpError(400, `"format" must be utf8 or hex, got "${format}"`);
  if (!/^([0-9a-fA-F]{2})*$/.test(text)) throw new HttpError(400, `key "${text}" is not hex`);
  return Buffer.from(text, "hex");
}

function parseJson(body: string): unknown {
  try {
    return JSON.parse(body);
  } catch (error) {
    throw new HttpError(400, `body is not JSON: ${error instanceof Error ? error.message : String(error)}`);
  }
}

function asResponse(body: unknown): HttpResponse {
  return { body: toJsonValue(body) };
}

/** Keys and other byte strings as hex; the HTTP server turns bigints into strings. */
function toJsonValue(value: unknown): unknown {
  if (value instanceof Uint8Array) return hex(value);
  if (Array.isArray(value)) return value.map(toJsonValue);
  if (typeof value === "object" && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([key, field]) => [key, toJsonValue(field)]));
  }
  return value;
}

export function storeJson(store: StoreInfo): unknown {
  return {
    id: store.meta.id,
    address: store.meta.address,
    peer_address: store.meta.peerAddress,
    status_address: store.meta.statusAddress,
    version: store.meta.version,
    labels: store.meta.labels.map((label) => ({ key: label.key, value: label.value })),
    health: store.health,
    stopping: store.stopping,
    last_heartbeat: new Date(store.lastHeartbeatMs).toISOString(),
    region_count: store.regionCount,
    leader_count: store.leaderCount,
    region_size: store.regionSizeBytes,
    capacity: store.stats?.capacity,
    available: store.stats?.available,
    used_size: store.stats?.usedSize,
  };
}

export function regionJson(region: RegionInfo): unknown {
  return {
    id: region.meta.id,
    start_key: hex(region.meta.startKey),
    end_key: hex(region.meta.endKey),
    epoch: { conf_ver: region.meta.regionEpoch?.confVer, version: region.meta.regionEpoch?.version },
    peers: region.meta.peers.map(peerJson),
    leader: optional(region.leader, peerJson),
    down_peers: region.downPeers.map((stats: pdpb.PeerStats) => ({
      peer: optional(stats.peer, peerJson),
      down_seconds: stats.downSeconds,
    })),
    pending_peers: region.pendingPeers.map(peerJson),
    approximate_size: region.approximateSizeBytes,
    approximate_keys: region.approximateKeys,
  };
}

function peerJson(peer: metapb.Peer): unknown {
  return {
    id: peer.id,
    store_id: peer.storeId,
    role: peer.role === metapb.PeerRole.LEARNER ? "learner" : "voter",
  };
}

function memberJson(member: MemberInfo): Record<string, unknown> {
  return {
    name: member.name,
    member_id: member.memberId,
    client_urls: member.clientUrls,
    http_urls: member.httpUrls,
  };
}

function optional<Value>(value: Value | undefined, format: (value: Value) => unknown): unknown {
  return value === undefined ? undefined : format(value);
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("hex");
}
