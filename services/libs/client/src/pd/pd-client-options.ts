/**
 * Options of the pd client with their defaults. Defaults follow PD's Go client where it has one; where this
 * client is tuned for fast failover (pd leaders re-elect within a few seconds here), the value says why.
 */
import type { Logger } from "#observability";
import { type Clock, type Random, systemClock, systemRandom, systemTimers, type Timers } from "#runtime";
import type { ReconnectBackoffPolicy } from "../backoff/reconnect-backoff.ts";
import { toGrpcAddress } from "./endpoint-address.ts";

export interface PdClientOptions {
  /** Any pd members, as host:port or URLs; the leader is found from whichever answers. */
  readonly endpoints: readonly string[];
  /** Deadline of one unary call, retries included [3000 ms]. */
  readonly requestTimeoutMs?: number;
  /** Deadline of one getTimestamp call [3000 ms]. */
  readonly tsoTimeoutMs?: number;
  /** Deadline of `connect` finding a leader [= requestTimeoutMs]. */
  readonly connectTimeoutMs?: number;
  /** Bound on one member's GetMembers answer, so a hung member cannot use up a whole deadline [1000 ms]. */
  readonly memberTimeoutMs?: number;
  /** How often the member list and leader are refreshed [10 s]. */
  readonly memberRefreshIntervalMs?: number;
  /** Delays between reconnects and retries after a transport failure [100 ms doubling to 3000 ms, jittered]. */
  readonly reconnectBackoff?: ReconnectBackoffPolicy;
  /** Attempts per unary call, within its deadline [10]. */
  readonly maxAttempts?: number;
  /** Timestamps asked for in one TsoRequest [10 000, as PD's client; pd serves 2^18 per millisecond]. */
  readonly tsoMaxBatchSize?: number;
  /** TsoRequests awaiting an answer on the stream [4]. */
  readonly tsoMaxInFlightBatches?: number;
  /** Callers queued for a timestamp before getTimestamp fails fast with TsoQueueFullError [100 000]. */
  readonly tsoMaxPendingRequests?: number;
  /** Regions whose latest heartbeat is kept while the heartbeat stream is down [4096]. */
  readonly maxBufferedHeartbeats?: number;
  /** Refuse members of any other cluster; by default the first member to answer fixes the cluster id. */
  readonly clusterId?: bigint;
  /** Identifies the caller (a store id, or 0 for gateways and tools) in pd's logs [0]. */
  readonly senderId?: bigint;
  readonly clock?: Clock;
  readonly timers?: Timers;
  readonly random?: Random;
  readonly logger?: Logger;
}

export interface ResolvedPdClientOptions {
  readonly seedAddresses: readonly string[];
  readonly requestTimeoutMs: number;
  readonly tsoTimeoutMs: number;
  readonly connectTimeoutMs: number;
  readonly memberTimeoutMs: number;
  readonly memberRefreshIntervalMs: number;
  readonly reconnectBackoff: ReconnectBackoffPolicy;
  readonly maxAttempts: number;
  readonly tsoMaxBatchSize: number;
  readonly tsoMaxInFlightBatches: number;
  readonly tsoMaxPendingRequests: number;
  readonly maxBufferedHeartbeats: number;
  readonly clusterId?: bigint;
  readonly senderId: bigint;
  readonly clock: Clock;
  readonly timers: Timers;
  readonly random: Random;
  readonly logger?: Logger;
}

export const DEFAULT_REQUEST_TIMEOUT_MS = 3000;
export const DEFAULT_TSO_TIMEOUT_MS = 3000;
export const DEFAULT_MEMBER_TIMEOUT_MS = 1000;
export const DEFAULT_MEMBER_REFRESH_INTERVAL_MS = 10_000;
export const DEFAULT_RECONNECT_BACKOFF: ReconnectBackoffPolicy = { baseMs: 100, capMs: 3000 };
export const DEFAULT_MAX_ATTEMPTS = 10;
export const DEFAULT_TSO_MAX_BATCH_SIZE = 10_000;
export const DEFAULT_TSO_MAX_IN_FLIGHT_BATCHES = 4;
export const DEFAULT_TSO_MAX_PENDING_REQUESTS = 100_000;
export const DEFAULT_MAX_BUFFERED_HEARTBEATS = 4096;

export function resolvePdClientOptions(options: PdClientOptions): ResolvedPdClientOptions {
  if (options.endpoints.length === 0) throw new RangeError("pd client needs at least one endpoint");
  const requestTimeoutMs = positive(
    "requestTimeoutMs",
    options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS,
  );
  const tsoMaxBatchSize = positive("tsoMaxBatchSize", options.tsoMaxBatchSize ?? DEFAULT_TSO_MAX_BATCH_SIZE);
  if (tsoMaxBatchSize >= 2 ** 17) {
    throw new RangeError(
      `tsoMaxBatchSize must stay well below 2^18 timestamps per millisecond, got ${tsoMaxBatchSize}`,
    );
  }
  return {
    seedAddresses: [...new Set(options.endpoints.map(toGrpcAddress))],
    requestTimeoutMs,
    tsoTimeoutMs: positive("tsoTimeoutMs", options.tsoTimeoutMs ?? DEFAULT_TSO_TIMEOUT_MS),
    connectTimeoutMs: positive("connectTimeoutMs", options.connectTimeoutMs ?? requestTimeoutMs),
    memberTimeoutMs: positive("memberTimeoutMs", options.memberTimeoutMs ?? DEFAULT_MEMBER_TIMEOUT_MS),
    memberRefreshIntervalMs: positive(
      "memberRefreshIntervalMs",
      options.memberRefreshIntervalMs ?? DEFAULT_MEMBER_REFRESH_INTERVAL_MS,
    ),
    reconnectBackoff: options.reconnectBackoff ?? DEFAULT_RECONNECT_BACKOFF,
    maxAttempts: positive("maxAttempts", options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS),
    tsoMaxBatchSize,
    tsoMaxInFlightBatches: positive(
      "tsoMaxInFlightBatches",
      options.tsoMaxInFlightBatches ?? DEFAULT_TSO_MAX_IN_FLIGHT_BATCHES,
    ),
    tsoMaxPendingRequests: positive(
      "tsoMaxPendingRequests",
      options.tsoMaxPendingRequests ?? DEFAULT_TSO_MAX_PENDING_REQUESTS,
    ),
    maxBufferedHeartbeats: positive(
      "maxBufferedHeartbeats",
      options.maxBufferedHeartbeats ?? DEFAULT_MAX_BUFFERED_HEARTBEATS,
    ),
    clusterId: options.clusterId,
    senderId: options.senderId ?? 0n,
    clock: options.clock ?? systemClock,
    timers: options.timers ?? systemTimers,
    random: options.random ?? systemRandom,
    logger: options.logger,
  };
}

function positive(name: string, value: number): number {
  if (!(Number.isFinite(value) && value > 0))
    throw new RangeError(`${name} must be a positive number, got ${value}`);
  return value;
}
