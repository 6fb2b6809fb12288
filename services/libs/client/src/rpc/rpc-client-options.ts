/**
 * Options of the store RPC client with their defaults. Numbers follow TiKV's client-go where it has one
 * (4 connections per store, batches of up to 128, 3 min idle recycle).
 */
import type { Logger, MetricFactory } from "#observability";
import { type Clock, type Random, systemClock, systemRandom, systemTimers, type Timers } from "#runtime";
import { checkReconnectBackoffPolicy, type ReconnectBackoffPolicy } from "../backoff/reconnect-backoff.ts";
import { nonNegative, positive, positiveInteger } from "../option-checks.ts";

export interface RpcClientOptions {
  /** BatchCommands streams per store, each on its own HTTP/2 connection [4]. */
  readonly connectionsPerStore?: number;
  /** Requests in one stream message [128]. */
  readonly maxBatchSize?: number;
  /**
   * How long a request may wait for others to share its message [0 = until the end of the current event-loop
   * turn, which already gathers every request issued by one burst of callbacks].
   */
  readonly maxBatchWaitMs?: number;
  /** Requests awaiting an answer on one stream; more wait in the pool's queue [1024]. */
  readonly maxInFlightPerStream?: number;
  /** Requests queued for one store before send fails fast with RpcQueueFullError [8192]. */
  readonly maxPendingRequestsPerStore?: number;
  /** A stream with nothing in flight for this long is closed with its connection [180 000 ms]. */
  readonly idleTimeoutMs?: number;
  /** Delays before a broken stream's slot is used again [100 ms doubling to 3000 ms, equal jitter]. */
  readonly reconnect?: ReconnectBackoffPolicy;
  /** Largest gRPC message either way [64 MiB]. */
  readonly maxMessageBytes?: number;
  readonly clock?: Clock;
  readonly timers?: Timers;
  readonly random?: Random;
  readonly logger?: Logger;
  /** When given, request latencies, batch sizes and stream failures are exported. */
  readonly metrics?: MetricFactory;
}

export interface ResolvedRpcClientOptions {
  readonly connectionsPerStore: number;
  readonly maxBatchSize: number;
  readonly maxBatchWaitMs: number;
  readonly maxInFlightPerStream: number;
  readonly maxPendingRequestsPerStore: number;
  readonly idleTimeoutMs: number;
  readonly reconnect: ReconnectBackoffPolicy;
  readonly maxMessageBytes: number;
  readonly clock: Clock;
  readonly timers: Timers;
  readonly random: Random;
  readonly logger?: Logger;
}

export const DEFAULT_CONNECTIONS_PER_STORE = 4;
export const DEFAULT_MAX_BATCH_SIZE = 128;
export const DEFAULT_MAX_BATCH_WAIT_MS = 0;
export const DEFAULT_MAX_IN_FLIGHT_PER_STREAM = 1024;
export const DEFAULT_MAX_PENDING_REQUESTS_PER_STORE = 8192;
export const DEFAULT_IDLE_TIMEOUT_MS = 180_000;
export const DEFAULT_RECONNECT_POLICY: ReconnectBackoffPolicy = { baseMs: 100, capMs: 3000 };
export const DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024 * 1024;

export function resolveRpcClientOptions(options: RpcClientOptions): ResolvedRpcClientOptions {
  const reconnect = options.reconnect ?? DEFAULT_RECONNECT_POLICY;
  checkReconnectBackoffPolicy(reconnect);
  return {
    connectionsPerStore: positiveInteger(
      "connectionsPerStore",
      options.connectionsPerStore ?? DEFAULT_CONNECTIONS_PER_STORE,
    ),
    maxBatchSize: positiveInteger("maxBatchSize", options.maxBatchSize ?? DEFAULT_MAX_BATCH_SIZE),
    maxBatchWaitMs: nonNegative("maxBatchWaitMs", options.maxBatchWaitMs ?? DEFAULT_MAX_BATCH_WAIT_MS),
    maxInFlightPerStream: positiveInteger(
      "maxInFlightPerStream",
      options.maxInFlightPerStream ?? DEFAULT_MAX_IN_FLIGHT_PER_STREAM,
    ),
    maxPendingRequestsPerStore: positiveInteger(
      "maxPendingRequestsPerStore",
      options.maxPendingRequestsPerStore ?? DEFAULT_MAX_PENDING_REQUESTS_PER_STORE,
    ),
    idleTimeoutMs: positive("idleTimeoutMs", options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS),
    reconnect,
    maxMessageBytes: positiveInteger("maxMessageBytes", options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES),
    clock: options.clock ?? systemClock,
    timers: options.timers ?? systemTimers,
    random: options.random ?? systemRandom,
    logger: options.logger,
  };
}
