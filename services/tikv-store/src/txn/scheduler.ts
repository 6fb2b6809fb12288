/**
 * Runs transactional write commands: take the latches of the command's keys, read the region on its
 * leader, run the (pure) action over that read, propose everything it wrote as ONE raft command in the
 * same leader term, and release the latches once that command applied. Reads (Get, BatchGet, Scan) take
 * no latches and do not come through here.
 *
 * The scheduler owns the side effects around the pure actions: the memory lock table and max_ts for
 * async commit and 1PC, waking pessimistic-lock waiters when locks are released, and the sync of a
 * region's max_ts with the TSO.
 */
import type { Clock } from "#runtime";
import { MvccReader } from "../mvcc/mvcc-reader.ts";
import { MvccTxn } from "../mvcc/mvcc-txn.ts";
import type { RegionReader } from "../raftstore/read-path.ts";
import { RaftEntryTooLargeError, ServerIsBusyError } from "../raftstore/region-errors.ts";
import type { KeyCheck, RequestContext } from "../raftstore/request-check.ts";
import type { ConcurrencyManager } from "./concurrency-manager.ts";
import { type Latches, LatchesFullError } from "./latches.ts";
import type { TxnMetrics } from "./txn-metrics.ts";
import type { TxnStore } from "./txn-store.ts";

export interface ReleasedLockNotice {
  readonly key: Uint8Array;
  readonly startTs: bigint;
  readonly commitTs: bigint | undefined;
}

/** Told about locks released by applied commands, so waiters on them can retry. */
export interface LockReleaseListener {
  released(locks: readonly ReleasedLockNotice[]): void;
}

export interface SchedulerOptions {
  readonly store: TxnStore;
  readonly latches: Latches;
  readonly concurrency: ConcurrencyManager;
  readonly lockReleases: LockReleaseListener;
  /** A fresh timestamp from pd's TSO (to sync a region's max_ts). */
  readonly tso: () => Promise<bigint>;
  /** A command whose writes exceed this is refused before proposing (raft's entry size limit). */
  readonly maxWriteBytes: number;
  readonly busyBackoffMs: number;
  readonly metrics: TxnMetrics;
  readonly clock: Clock;
}

export interface ActionRun<Result> {
  readonly result: Result;
  /** False when the action failed as a whole: nothing it recorded is written (all-or-nothing actions). */
  readonly write: boolean;
}

export type Action<Result> = (
  reader: MvccReader,
  txn: MvccTxn,
  region: RegionReader,
) => Promise<ActionRun<Result>>;

export interface WriteCommand<Result> {
  /** Metric label, e.g. "prewrite". */
  readonly type: string;
  readonly context: RequestContext;
  /** Keys latched, and checked to be in the region. */
  readonly keys: readonly Uint8Array[];
  /** Region check beyond the keys (a range command); defaults to the keys. */
  readonly check?: KeyCheck;
  readonly action: Action<Result>;
  /**
   * Runs after the read, before the action, synchronously: publishes memory locks (async commit). Its
   * release runs once the command applied or failed.
   */
  readonly beforeAction?: (region: RegionReader) => { release(): void } | undefined;
  /** The action needs the region's max_ts synced with the TSO first (async commit, 1PC). */
  readonly needsMaxTsSync?: boolean;
  /**
   * Runs with the result while the latches are still held (a pessimistic lock registers its lock waiter
   * here, so the release it waits for cannot slip in between).
   */
  readonly whileLatched?: (result: Result) => void;
}

export class TxnScheduler {
  constructor(private readonly options: SchedulerOptions) {}

  async write<Result>(command: WriteCommand<Result>): Promise<Result> {
    const { latches, metrics, clock } = this.options;
    const waitStarted = clock.monotonicMs();
    const guard = await latches.acquire(command.keys).catch((error: unknown) => {
      if (!(error instanceof LatchesFullError)) throw error;
      metrics.latchesFull.inc();
      throw new ServerIsBusyError(error.message, this.options.busyBackoffMs);
    });
    metrics.latchWaitDuration.observe({ type: command.type }, (clock.monotonicMs() - waitStarted) / 1000);
    try {
      const result = await this.runLatched(command);
      command.whileLatched?.(result);
      return result;
    } finally {
      guard.release();
    }
  }

  private async runLatched<Result>(command: WriteCommand<Result>): Promise<Result> {
    const { store } = this.options;
    // Transactional writes are computed on the leader only.
    const context: RequestContext = { ...command.context, replicaRead: false };
    const check = command.check ?? { kind: "keys", keys: command.keys };
    if (command.needsMaxTsSync) {
      await store.read(context, check, (region) => this.syncMaxTs(region));
    }
    let memoryLocks: { release(): void } | undefined;
    try {
      const { run, txn, region } = await store.read(context, check, async (region) => {
        if (command.needsMaxTsSync && !this.isSynced(region)) {
          throw new ServerIsBusyError(
            `region ${region.region.id} max_ts is being synced`,
            this.options.busyBackoffMs,
          );
        }
        memoryLocks = command.beforeAction?.(region);
        const txn = new MvccTxn();
        const run = await command.action(new MvccReader(region.mvcc), txn, region);
        return { run, txn, region };
      });
      if (run.write && !txn.isEmpty) {
        if (txn.sizeBytes > this.options.maxWriteBytes) {
          throw new RaftEntryTooLargeError(region.region.id, txn.sizeBytes, this.options.maxWriteBytes);
        }
        await store.writeTxn(context, { region: region.region, term: region.term }, txn.modifies);
        if (txn.releasedLocks.length > 0) this.options.lockReleases.released(txn.releasedLocks);
      }
      return run.result;
    } finally {
      memoryLocks?.release();
    }
  }

  private isSynced(region: RegionReader): boolean {
    return this.options.concurrency.isSynced(
      region.region.id,
      region.term,
      region.region.regionEpoch?.version ?? 0n,
    );
  }

  private async syncMaxTs(region: RegionReader): Promise<void> {
    if (this.isSynced(region)) return;
    const ts = await this.options.tso();
    this.options.concurrency.markSynced(
      region.region.id,
      region.term,
      region.region.regionEpoch?.version ?? 0n,
      ts,
    );
    this.options.metrics.maxTsSyncs.inc();
  }
}
