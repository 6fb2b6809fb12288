/** The transaction client's options, with TiKV/client-go defaults where they exist. */
import type { Logger, MetricFactory } from "#observability";
import {
  type Clock,
  type Failpoints,
  processFailpoints,
  type Random,
  systemClock,
  systemRandom,
  systemTimers,
  type Timers,
} from "#runtime";
import { COMMIT_BUDGET_MS, GET_BUDGET_MS, PREWRITE_BUDGET_MS } from "../backoff/backoffer.ts";
import { positive, positiveInteger } from "../option-checks.ts";
import type { PdClientOptions } from "../pd/pd-client-options.ts";
import type { RpcClientOptions } from "../rpc/rpc-client-options.ts";

export interface TxnSettings {
  /** Deadline of each attempt of a request to a store [10 000 ms]. */
  readonly requestTimeoutMs?: number;
  /** Backoff budget of a read (get, batch get, one scan) [20 000 ms]. */
  readonly readBudgetMs?: number;
  /** Backoff budget of the prewrite phase [40 000 ms]. */
  readonly prewriteBudgetMs?: number;
  /** Backoff budget of committing the primary [40 000 ms]. */
  readonly commitBudgetMs?: number;
  /** Keys in one prewrite/commit request to one region [2048, client-go's]. */
  readonly maxKeysPerRequest?: number;
  /** Key and value bytes in one prewrite request [16 KiB, client-go's txnCommitBatchSize]. */
  readonly maxBytesPerRequest?: number;
  /** Pairs asked of one region per scan request [256]. */
  readonly scanPageSize?: number;
  /** Region requests one operation keeps in flight at once [15, client-go's snapshot concurrency]. */
  readonly maxConcurrentRegionRequests?: number;
  /** Transactions whose fate the lock resolver remembers [2048]. */
  readonly resolvedCacheSize?: number;
  /** Secondary commits and rollbacks running in the background at once, client-wide [256]. */
  readonly maxBackgroundTasks?: number;
  /**
   * TTL of the locks of a transaction kept alive by its heartbeat (pessimistic ones, big commits); the
   * heartbeat runs every half of it [20 000 ms, TiDB's ManagedLockTTL].
   */
  readonly managedLockTtlMs?: number;
  /** Commit a transaction whose writes fit one region in one request, without locks [true]. */
  readonly enableOnePc?: boolean;
  /** Commit small transactions as soon as their prewrites succeed [true]. */
  readonly enableAsyncCommit?: boolean;
  /** Failpoints of the commit path [the process-wide registry, armed from TESSERA_FAILPOINTS]. */
  readonly failpoints?: Failpoints;
  readonly clock?: Clock;
  readonly timers?: Timers;
  readonly random?: Random;
  readonly logger?: Logger;
}

export interface TxnClientOptions extends TxnSettings {
  readonly pdEndpoints: readonly string[];
  readonly pd?: Omit<PdClientOptions, "endpoints" | "clock" | "timers" | "random" | "logger">;
  readonly rpc?: Omit<RpcClientOptions, "clock" | "timers" | "random" | "logger" | "metrics">;
  readonly metrics?: MetricFactory;
  readonly regionCacheTtlMs?: number;
}

export interface ResolvedTxnSettings {
  readonly requestTimeoutMs: number;
  readonly readBudgetMs: number;
  readonly prewriteBudgetMs: number;
  readonly commitBudgetMs: number;
  readonly maxKeysPerRequest: number;
  readonly maxBytesPerRequest: number;
  readonly scanPageSize: number;
  readonly maxConcurrentRegionRequests: number;
  readonly resolvedCacheSize: number;
  readonly maxBackgroundTasks: number;
  readonly managedLockTtlMs: number;
  readonly enableOnePc: boolean;
  readonly enableAsyncCommit: boolean;
  readonly failpoints: Failpoints;
  readonly clock: Clock;
  readonly timers: Timers;
  readonly random: Random;
  readonly logger?: Logger;
}

export function resolveTxnSettings(settings: TxnSettings): ResolvedTxnSettings {
  return {
    requestTimeoutMs: positive("requestTimeoutMs", settings.requestTimeoutMs ?? 10_000),
    readBudgetMs: positive("readBudgetMs", settings.readBudgetMs ?? GET_BUDGET_MS),
    prewriteBudgetMs: positive("prewriteBudgetMs", settings.prewriteBudgetMs ?? PREWRITE_BUDGET_MS),
    commitBudgetMs: positive("commitBudgetMs", settings.commitBudgetMs ?? COMMIT_BUDGET_MS),
    maxKeysPerRequest: positiveInteger("maxKeysPerRequest", settings.maxKeysPerRequest ?? 2048),
    maxBytesPerRequest: positiveInteger("maxBytesPerRequest", settings.maxBytesPerRequest ?? 16 * 1024),
    scanPageSize: positiveInteger("scanPageSize", settings.scanPageSize ?? 256),
    maxConcurrentRegionRequests: positiveInteger(
      "maxConcurrentRegionRequests",
      settings.maxConcurrentRegionRequests ?? 15,
    ),
    resolvedCacheSize: positiveInteger("resolvedCacheSize", settings.resolvedCacheSize ?? 2048),
    maxBackgroundTasks: positiveInteger("maxBackgroundTasks", settings.maxBackgroundTasks ?? 256),
    managedLockTtlMs: positive("managedLockTtlMs", settings.managedLockTtlMs ?? 20_000),
    enableOnePc: settings.enableOnePc ?? true,
    enableAsyncCommit: settings.enableAsyncCommit ?? true,
    failpoints: settings.failpoints ?? processFailpoints,
    clock: settings.clock ?? systemClock,
    timers: settings.timers ?? systemTimers,
    random: settings.random ?? systemRandom,
    logger: settings.logger,
  };
}
