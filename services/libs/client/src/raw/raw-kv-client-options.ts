/**
 * Options of the raw key-value client with their defaults. Request sizes stay well under the store's own
 * limits (server.max-batch-keys 4096, server.max-batch-size 6 MiB, server.max-scan-limit 10240), so a
 * batch is split by the client rather than refused by the store.
 */
import type { Logger, MetricFactory } from "#observability";
import { type Clock, type Random, systemClock, systemRandom, systemTimers, type Timers } from "#runtime";
import { GET_BUDGET_MS } from "../backoff/backoffer.ts";
import { positive, positiveInteger } from "../option-checks.ts";
import type { PdClientOptions } from "../pd/pd-client-options.ts";
import type { RpcClientOptions } from "../rpc/rpc-client-options.ts";

export interface RawKvSettings {
  /** Deadline of each attempt of a request to a store [10 000 ms]. */
  readonly requestTimeoutMs?: number;
  /** Backoff budget of one call, its retries across every region included [20 000 ms, as TiKV's raw client]. */
  readonly backoffBudgetMs?: number;
  /** Keys (or pairs) in one batch request to one region [512]. */
  readonly maxKeysPerRequest?: number;
  /** Key and value bytes in one batch request to one region [1 MiB]. */
  readonly maxBytesPerRequest?: number;
  /** Pairs asked of one region per scan request; must not exceed the store's server.max-scan-limit [1024]. */
  readonly scanPageSize?: number;
  /** Region requests one call keeps in flight at once (batches, delete ranges) [16]. */
  readonly maxConcurrentRegionRequests?: number;
  readonly clock?: Clock;
  readonly timers?: Timers;
  readonly random?: Random;
  readonly logger?: Logger;
}

export interface RawKvClientOptions extends RawKvSettings {
  /** When given: backoffs by kind, region cache hits and misses, call latencies and the RPC client's metrics. */
  readonly metrics?: MetricFactory;
  /** Any pd members, as host:port or URLs. */
  readonly pdEndpoints: readonly string[];
  /** Passed to the pd client (endpoints and the shared clock, timers, random and logger excluded). */
  readonly pd?: Omit<PdClientOptions, "endpoints" | "clock" | "timers" | "random" | "logger">;
  /** Passed to the store RPC client (the shared clock, timers, random, logger and metrics excluded). */
  readonly rpc?: Omit<RpcClientOptions, "clock" | "timers" | "random" | "logger" | "metrics">;
  /** Region cache entry time-to-live [600 s]. */
  readonly regionCacheTtlMs?: number;
}

export interface ResolvedRawKvSettings {
  readonly requestTimeoutMs: number;
  readonly backoffBudgetMs: number;
  readonly maxKeysPerRequest: number;
  readonly maxBytesPerRequest: number;
  readonly scanPageSize: number;
  readonly maxConcurrentRegionRequests: number;
  readonly clock: Clock;
  readonly timers: Timers;
  readonly random: Random;
  readonly logger?: Logger;
}

export const DEFAULT_RAW_REQUEST_TIMEOUT_MS = 10_000;
export const DEFAULT_RAW_BACKOFF_BUDGET_MS = GET_BUDGET_MS;
export const DEFAULT_MAX_KEYS_PER_REQUEST = 512;
export const DEFAULT_MAX_BYTES_PER_REQUEST = 1024 * 1024;
export const DEFAULT_SCAN_PAGE_SIZE = 1024;
export const DEFAULT_MAX_CONCURRENT_REGION_REQUESTS = 16;

export function resolveRawKvSettings(settings: RawKvSettings): ResolvedRawKvSettings {
  return {
    requestTimeoutMs: positive(
      "requestTimeoutMs",
      settings.requestTimeoutMs ?? DEFAULT_RAW_REQUEST_TIMEOUT_MS,
    ),
    backoffBudgetMs: positive("backoffBudgetMs", settings.backoffBudgetMs ?? DEFAULT_RAW_BACKOFF_BUDGET_MS),
    maxKeysPerRequest: positiveInteger(
      "maxKeysPerRequest",
      settings.maxKeysPerRequest ?? DEFAULT_MAX_KEYS_PER_REQUEST,
    ),
    maxBytesPerRequest: positiveInteger(
      "maxBytesPerRequest",
      settings.maxBytesPerRequest ?? DEFAULT_MAX_BYTES_PER_REQUEST,
    ),
    scanPageSize: positiveInteger("scanPageSize", settings.scanPageSize ?? DEFAULT_SCAN_PAGE_SIZE),
    maxConcurrentRegionRequests: positiveInteger(
      "maxConcurrentRegionRequests",
      settings.maxConcurrentRegionRequests ?? DEFAULT_MAX_CONCURRENT_REGION_REQUESTS,
    ),
    clock: settings.clock ?? systemClock,
    timers: settings.timers ?? systemTimers,
    random: settings.random ?? systemRandom,
    logger: settings.logger,
  };
}
