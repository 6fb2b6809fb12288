/**
 * The store's transaction layer, assembled and owned in one place: latches, max_ts and the memory lock
 * table, the scheduler, pessimistic-lock waiting, and this store's part in deadlock detection (the
 * detector, active while the store leads the first region, and the client every store uses to reach the
 * active one). `close` ends lock waiters and the detector client's background work.
 */
import type { PdClient } from "#client";
import type { Logger, MetricFactory } from "#observability";
import type { deadlock } from "#proto";
import type { Clock, Random, Timers } from "#runtime";
import type { Store } from "../raftstore/store.ts";
import { ConcurrencyManager } from "../txn/concurrency-manager.ts";
import { createDeadlockService } from "../txn/deadlock/deadlock-service.ts";
import type { DetectorLocation } from "../txn/deadlock/detect-stream.ts";
import { DeadlockDetector } from "../txn/deadlock/detector.ts";
import { DetectorClient } from "../txn/deadlock/detector-client.ts";
import { Latches } from "../txn/latches.ts";
import { keyHash } from "../txn/lock-wait/key-hash.ts";
import { LockWaitManager } from "../txn/lock-wait/lock-wait-manager.ts";
import { TxnScheduler } from "../txn/scheduler.ts";
import { createTxnMetrics, type TxnMetrics } from "../txn/txn-metrics.ts";
import type { RequestLimits } from "./request-validation.ts";
import { TxnKvHandlers } from "./txn-kv-handlers.ts";

/** TiKV's scheduler has 2048 latch slots by default; plenty for one store's concurrent commands. */
const LATCH_SLOTS = 2048;
/** A command that found the latches full retries after this pause. */
const BUSY_BACKOFF_MS = 20;

/** The `storage.*` and `pessimistic-txn.*` settings (config.ts). */
export interface TxnSettings {
  readonly maxLatchWaiters: number;
  /** What a PessimisticLock asking for the default wait (0) waits. */
  readonly lockWaitTimeoutMs: number;
  readonly wakeUpDelayMs: number;
  readonly maxLockWaiters: number;
}

export interface TxnLayerOptions {
  readonly store: Store;
  readonly pd: PdClient;
  readonly limits: RequestLimits;
  readonly settings: TxnSettings;
  readonly factory: MetricFactory;
  readonly clock: Clock;
  readonly timers: Timers;
  readonly random: Random;
  readonly logger: Logger;
}

export class TxnLayer {
  readonly handlers: TxnKvHandlers;
  readonly deadlockService: deadlock.DeadlockServer;
  readonly metrics: TxnMetrics;
  private readonly detector: DeadlockDetector;
  private readonly detectorClient: DetectorClient;
  private readonly lockWaits: LockWaitManager;

  constructor(private readonly options: TxnLayerOptions) {
    const { store, pd, clock, timers, random, logger } = options;
    this.metrics = createTxnMetrics(options.factory);
    this.detector = new DeadlockDetector({ storeId: store.storeId, clock, logger });
    this.detectorClient = new DetectorClient({
      storeId: store.storeId,
      localDetector: this.detector,
      resolveDetector: () => this.locateDetector(),
      timers,
      random,
      logger,
    });
    const metrics = this.metrics;
    this.lockWaits = new LockWaitManager({
      detection: this.detectorClient,
      clock,
      timers,
      logger,
      maxWaiters: options.settings.maxLockWaiters,
      wakeUpDelayMs: options.settings.wakeUpDelayMs,
    });
    const concurrency = new ConcurrencyManager();
    const lockWaits = this.lockWaits;
    const scheduler = new TxnScheduler({
      store,
      latches: new Latches(LATCH_SLOTS, options.settings.maxLatchWaiters),
      concurrency,
      lockReleases: {
        released: (locks) =>
          lockWaits.released(
            locks.map((lock) => ({
              key: lock.key,
              keyHash: keyHash(lock.key),
              startTs: lock.startTs,
              commitTs: lock.commitTs,
            })),
          ),
      },
      tso: () => pd.getTimestamp(),
      maxWriteBytes: options.limits.maxEntryBytes,
      busyBackoffMs: BUSY_BACKOFF_MS,
      metrics,
      clock,
    });
    this.handlers = new TxnKvHandlers({
      store,
      scheduler,
      concurrency,
      lockWaiter: this.lockWaits,
      limits: options.limits,
      defaultLockWaitTimeoutMs: options.settings.lockWaitTimeoutMs,
      metrics,
      clock,
      logger,
    });
    this.deadlockService = createDeadlockService({ detector: this.detector, logger });
    this.detector.setRole(store.leadsFirstRegion());
  }

  /** A region's leader changed (or it split): the detector follows the first region's leader. */
  regionChanged(): void {
    const leads = this.options.store.leadsFirstRegion();
    if (leads !== this.detector.isLeader) this.detector.setRole(leads);
  }

  async close(): Promise<void> {
    await this.lockWaits.close();
    await this.detectorClient.close();
  }

  private async locateDetector(): Promise<DetectorLocation | undefined> {
    const { pd } = this.options;
    const first = await pd.getRegion(new Uint8Array(0));
    const storeId = first?.leader?.storeId;
    if (storeId === undefined) return undefined;
    const store = await pd.getStore(storeId);
    return store === undefined ? undefined : { storeId, address: store.store.address };
  }
}
