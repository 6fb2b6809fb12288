/**
 * The transactional RPCs, one method per RPC: validate the request, run it (reads straight on the region,
 * writes through the scheduler), build the response. Shared by the unary RPCs and the BatchCommands
 * stream, so both answer identically.
 *
 * A handler never rejects. A region error becomes `region_error` (the client retries elsewhere); a key
 * error (locked, conflict, …) the response's key error; a malformed request a key error whose `abort`
 * says what is wrong (nothing is written: validation runs before anything else).
 */
import { compareBytes, UINT64_MAX } from "#codec";
import type { Logger } from "#observability";
import { type errorpb, kvrpcpb } from "#proto";
import { type Clock, InvariantError } from "#runtime";
import { type KeyError, KeyErrorException } from "../mvcc/key-error.ts";
import { keyHistory } from "../mvcc/key-history.ts";
import type { LockRecord } from "../mvcc/lock-record.ts";
import { type ReadOptions, SnapshotReader } from "../mvcc/snapshot-reader.ts";
import type { RegionReader } from "../raftstore/read-path.ts";
import { ServerIsBusyError } from "../raftstore/region-errors.ts";
import { batchRollback, cleanup } from "../txn/actions/batch-rollback.ts";
import { checkSecondaryLocks } from "../txn/actions/check-secondary-locks.ts";
import { checkTxnStatus } from "../txn/actions/check-txn-status.ts";
import { commit } from "../txn/actions/commit.ts";
import { gcRange } from "../txn/actions/gc.ts";
import { txnHeartBeat } from "../txn/actions/heartbeat.ts";
import { pessimisticLock, pessimisticRollback } from "../txn/actions/pessimistic-lock.ts";
import { prewrite, type TxnMutation } from "../txn/actions/prewrite.ts";
import { resolveLocks } from "../txn/actions/resolve-lock.ts";
import { scanLocks } from "../txn/actions/scan-lock.ts";
import type { ConcurrencyManager } from "../txn/concurrency-manager.ts";
import { keyHash } from "../txn/lock-wait/key-hash.ts";
import type { LockWaitManager, WaitOutcome } from "../txn/lock-wait/lock-wait-manager.ts";
import type { TxnScheduler } from "../txn/scheduler.ts";
import type { TxnMetrics } from "../txn/txn-metrics.ts";
import type { TxnStore } from "../txn/txn-store.ts";
import { describeFailure } from "./region-errors.ts";
import { type RequestRunnerOptions, type ResponseType, runRequest } from "./request-runner.ts";
import {
  checkBatch,
  checkContext,
  checkKey,
  checkRange,
  effectiveScanLimit,
  InvalidRequestError,
  type RequestLimits,
} from "./request-validation.ts";
import {
  keyErrorToProto,
  lockInfoToProto,
  prewriteOp,
  TXN_ACTION_TO_PROTO,
  WRITE_TYPE_TO_PROTO,
} from "./txn-proto.ts";

export interface TxnKvHandlersOptions {
  readonly store: TxnStore;
  readonly scheduler: TxnScheduler;
  readonly concurrency: ConcurrencyManager;
  readonly lockWaiter: Pick<LockWaitManager, "wait">;
  readonly limits: RequestLimits;
  /** Used when a PessimisticLock request asks for the default wait (wait_timeout_ms = 0). */
  readonly defaultLockWaitTimeoutMs: number;
  readonly metrics: TxnMetrics;
  readonly clock: Clock;
  readonly logger: Logger;
}

/** How a response of one type carries a failure that is not a region error. */
type FailureShape<Response> = (
  regionError: errorpb.Error | undefined,
  keyError: kvrpcpb.KeyError | undefined,
) => kvrpcpb.DeepPartial<Response>;

function inKeyError<Response extends { error?: kvrpcpb.KeyError | undefined }>(): FailureShape<Response> {
  return (regionError, error) => ({ regionError, error }) as kvrpcpb.DeepPartial<Response>;
}

function inKeyErrors<Response extends { errors: kvrpcpb.KeyError[] }>(): FailureShape<Response> {
  return (regionError, error) =>
    ({ regionError, errors: error === undefined ? [] : [error] }) as kvrpcpb.DeepPartial<Response>;
}

function inErrorText<Response extends { error: string }>(): FailureShape<Response> {
  return (regionError, error) =>
    ({
      regionError,
      error: error === undefined ? "" : describeProtoKeyError(error),
    }) as kvrpcpb.DeepPartial<Response>;
}

/** Locks are resolved or pruned in batches of this many keys, so one raft command stays small. */
const RESOLVE_BATCH_KEYS = 256;
const GC_BATCH_KEYS = 256;
/** Versions (and values) MvccGetByKey returns at most. */
const MAX_HISTORY_VERSIONS = 1000;
/** Bounds the loops over a region's locks or versions (each pass makes progress; this only guards bugs). */
const MAX_REGION_PASSES = 100_000;

export class TxnKvHandlers {
  private readonly runner: RequestRunnerOptions;

  constructor(private readonly options: TxnKvHandlersOptions) {
    const { clock, logger, metrics } = options;
    this.runner = {
      clock,
      logger,
      record: (type, outcome, seconds) => {
        metrics.commands.inc({ type, outcome });
        metrics.commandDuration.observe({ type }, seconds);
      },
    };
  }

  // ---- reads ---------------------------------------------------------------------------------------------

  kvGet(request: kvrpcpb.GetRequest): Promise<kvrpcpb.GetResponse> {
    return this.run<kvrpcpb.GetResponse>("kv_get", kvrpcpb.GetResponse, inKeyError(), async () => {
      const context = this.context(request.context);
      checkKey(request.key, this.options.limits);
      const options = readOptions(request.readTs, context);
      return this.leaderRead(context, { kind: "keys", keys: [request.key] }, async (region) => {
        const memoryLock = this.options.concurrency.readKeys([request.key], options);
        if (memoryLock !== undefined) return { error: keyErrorToProto(memoryLock) };
        const result = await new SnapshotReader(region.mvcc, options).get(request.key);
        if ("error" in result) return { error: keyErrorToProto(result.error) };
        return result.value === undefined ? { notFound: true } : { value: result.value };
      });
    });
  }

  kvBatchGet(request: kvrpcpb.BatchGetRequest): Promise<kvrpcpb.BatchGetResponse> {
    return this.run<kvrpcpb.BatchGetResponse>(
      "kv_batch_get",
      kvrpcpb.BatchGetResponse,
      inKeyError(),
      async () => {
        const context = this.context(request.context);
        checkBatch(request.keys, [], this.options.limits);
        const options = readOptions(request.readTs, context);
        return this.leaderRead(context, { kind: "keys", keys: request.keys }, async (region) => {
          const memoryLock = this.options.concurrency.readKeys(request.keys, options);
          if (memoryLock !== undefined) return { error: keyErrorToProto(memoryLock) };
          const pairs = await new SnapshotReader(region.mvcc, options).batchGet(request.keys);
          return { pairs: pairs.map(pairToProto) };
        });
      },
    );
  }

  kvScan(request: kvrpcpb.ScanRequest): Promise<kvrpcpb.ScanResponse> {
    return this.run<kvrpcpb.ScanResponse>("kv_scan", kvrpcpb.ScanResponse, inKeyError(), async () => {
      const context = this.context(request.context);
      const { limits } = this.options;
      // Forward scans cover [start, end); reverse scans [end, start), largest key first.
      const [lowerKey, upperKey] = request.reverse
        ? [request.endKey, request.startKey]
        : [request.startKey, request.endKey];
      checkRange(lowerKey, upperKey, limits, { reverse: request.reverse });
      const options = readOptions(request.readTs, context);
      const anchor = { kind: "scan", key: request.startKey, reverse: request.reverse } as const;
      return this.leaderRead(context, anchor, async (region) => {
        const bounds = clipToRegion(lowerKey, upperKey, region);
        const memoryLock = this.options.concurrency.readRange(bounds.startKey, bounds.endKey, options);
        if (memoryLock !== undefined) return { error: keyErrorToProto(memoryLock) };
        const pairs = await new SnapshotReader(region.mvcc, options).scan({
          ...bounds,
          limit: effectiveScanLimit(request.limit, limits),
          reverse: request.reverse,
          keyOnly: request.keyOnly,
        });
        return { pairs: pairs.map(pairToProto) };
      });
    });
  }

  kvScanLock(request: kvrpcpb.ScanLockRequest): Promise<kvrpcpb.ScanLockResponse> {
    return this.run<kvrpcpb.ScanLockResponse>(
      "kv_scan_lock",
      kvrpcpb.ScanLockResponse,
      inKeyError(),
      async () => {
        const context = this.context(request.context);
        checkRange(request.startKey, request.endKey, this.options.limits);
        const anchor = { kind: "scan", key: request.startKey, reverse: false } as const;
        return this.leaderRead(context, anchor, async (region) => {
          const locks = await scanLocks(
            region.mvcc,
            clipToRegion(request.startKey, request.endKey, region),
            (lock) => lock.startTs <= request.maxTs,
            effectiveScanLimit(request.limit, this.options.limits),
          );
          return { locks: locks.map(({ key, lock }) => lockInfoToProto(key, lock)) };
        });
      },
    );
  }

  // ---- two-phase commit ----------------------------------------------------------------------------------

  kvPrewrite(request: kvrpcpb.PrewriteRequest): Promise<kvrpcpb.PrewriteResponse> {
    return this.run<kvrpcpb.PrewriteResponse>(
      "kv_prewrite",
      kvrpcpb.PrewriteResponse,
      inKeyErrors(),
      async () => {
        const context = this.context(request.context);
        const mutations = this.checkPrewrite(request);
        const keys = mutations.map((mutation) => mutation.key);
        const { concurrency } = this.options;
        const asyncOrOnePc = request.useAsyncCommit || request.tryOnePc;
        let commitTsFloor = 0n;
        const result = await this.options.scheduler.write({
          type: "prewrite",
          context,
          keys,
          needsMaxTsSync: asyncOrOnePc,
          beforeAction: asyncOrOnePc
            ? () => {
                // Published before max_ts is read, in one synchronous step (see concurrency-manager.ts).
                const published = concurrency.lockKeys(
                  mutations.map((mutation) => ({ key: mutation.key, lock: memoryLockOf(request, mutation) })),
                );
                commitTsFloor = published.maxTs + 1n;
                concurrency.setMinCommitTs(
                  keys,
                  maxOf(request.startTs + 1n, request.forUpdateTs + 1n, request.minCommitTs, commitTsFloor),
                );
                return published.guard;
              }
            : undefined,
          action: async (reader, txn) => {
            const outcome = await prewrite(reader, txn, {
              mutations,
              primary: request.primaryLock,
              startTs: request.startTs,
              lockTtlMs: request.lockTtlMs,
              txnSize: request.txnSize,
              forUpdateTs: request.forUpdateTs,
              isPessimisticLock: request.isPessimisticLock,
              minCommitTs: request.minCommitTs,
              useAsyncCommit: request.useAsyncCommit,
              secondaries: request.secondaries,
              tryOnePc: request.tryOnePc,
              maxCommitTs: request.maxCommitTs,
              skipConstraintCheck: request.skipConstraintCheck,
              commitTsFloor,
            });
            return { result: outcome, write: outcome.errors.length === 0 };
          },
        });
        return {
          errors: result.errors.map(keyErrorToProto),
          minCommitTs: result.minCommitTs,
          onePcCommitTs: result.onePcCommitTs,
        };
      },
    );
  }

  kvCommit(request: kvrpcpb.CommitRequest): Promise<kvrpcpb.CommitResponse> {
    return this.run<kvrpcpb.CommitResponse>("kv_commit", kvrpcpb.CommitResponse, inKeyError(), async () => {
      const context = this.context(request.context);
      checkStartTs(request.startTs);
      if (request.commitTs <= request.startTs) {
        throw new InvalidRequestError(
          `commit_ts ${request.commitTs} must be greater than start_ts ${request.startTs}`,
        );
      }
      checkDistinctBatch(request.keys, this.options.limits);
      const error = await this.options.scheduler.write({
        type: "commit",
        context,
        keys: request.keys,
        action: async (reader, txn) => {
          const keyError = await commit(reader, txn, request);
          return { result: keyError, write: keyError === undefined };
        },
      });
      if (error !== undefined) throw new KeyErrorException(error);
      return { commitTs: request.commitTs };
    });
  }

  kvBatchRollback(request: kvrpcpb.BatchRollbackRequest): Promise<kvrpcpb.BatchRollbackResponse> {
    return this.run<kvrpcpb.BatchRollbackResponse>(
      "kv_batch_rollback",
      kvrpcpb.BatchRollbackResponse,
      inKeyError(),
      async () => {
        const context = this.context(request.context);
        checkStartTs(request.startTs);
        checkDistinctBatch(request.keys, this.options.limits);
        const error = await this.options.scheduler.write({
          type: "batch_rollback",
          context,
          keys: request.keys,
          action: async (reader, txn) => {
            const keyError = await batchRollback(reader, txn, request.keys, request.startTs);
            return { result: keyError, write: keyError === undefined };
          },
        });
        if (error !== undefined) throw new KeyErrorException(error);
        return {};
      },
    );
  }

  kvCleanup(request: kvrpcpb.CleanupRequest): Promise<kvrpcpb.CleanupResponse> {
    return this.run<kvrpcpb.CleanupResponse>(
      "kv_cleanup",
      kvrpcpb.CleanupResponse,
      inKeyError(),
      async () => {
        const context = this.context(request.context);
        checkKey(request.key, this.options.limits);
        checkStartTs(request.startTs);
        const result = await this.options.scheduler.write({
          type: "cleanup",
          context,
          keys: [request.key],
          action: async (reader, txn) => {
            const outcome = await cleanup(reader, txn, request.key, request.startTs, request.currentTs);
            return { result: outcome, write: outcome.kind === "rolled-back" };
          },
        });
        switch (result.kind) {
          case "rolled-back":
            return {};
          case "committed":
            return {
              commitTs: result.commitTs,
              error: keyErrorToProto({
                kind: "abort",
                reason: `transaction ${request.startTs} already committed at ${result.commitTs}`,
              }),
            };
          case "locked":
            return { error: keyErrorToProto(result.error) };
          default:
            return result satisfies never;
        }
      },
    );
  }

  // ---- the lock resolver's commands ---------------------------------------------------------------------

  kvCheckTxnStatus(request: kvrpcpb.CheckTxnStatusRequest): Promise<kvrpcpb.CheckTxnStatusResponse> {
    return this.run<kvrpcpb.CheckTxnStatusResponse>(
      "kv_check_txn_status",
      kvrpcpb.CheckTxnStatusResponse,
      inKeyError(),
      async () => {
        const context = this.context(request.context);
        checkKey(request.primaryKey, this.options.limits, "primary key");
        checkStartTs(request.lockTs);
        // A reader's call may push min_commit_ts above its start_ts: later reads at that ts must not miss it.
        this.options.concurrency.updateMaxTs(
          request.callerStartTs === UINT64_MAX ? 0n : request.callerStartTs,
        );
        const status = await this.options.scheduler.write({
          type: "check_txn_status",
          context,
          keys: [request.primaryKey],
          action: async (reader, txn) => ({
            result: await checkTxnStatus(reader, txn, {
              primary: request.primaryKey,
              lockTs: request.lockTs,
              callerStartTs: request.callerStartTs,
              currentTs: request.currentTs,
              rollbackIfNotExist: request.rollbackIfNotExist,
              resolvingPessimisticLock: request.resolvingPessimisticLock,
              forceSyncCommit: request.forceSyncCommit,
            }),
            write: true,
          }),
        });
        switch (status.kind) {
          case "alive":
            return {
              lockTtlMs: status.lock.ttlMs,
              action: TXN_ACTION_TO_PROTO[status.action],
              lockInfo: lockInfoToProto(request.primaryKey, status.lock),
            };
          case "committed":
            return { commitTs: status.commitTs };
          case "rolled-back":
            return { action: TXN_ACTION_TO_PROTO[status.action] };
          case "error":
            throw new KeyErrorException(status.error);
          default:
            return status satisfies never;
        }
      },
    );
  }

  kvCheckSecondaryLocks(
    request: kvrpcpb.CheckSecondaryLocksRequest,
  ): Promise<kvrpcpb.CheckSecondaryLocksResponse> {
    return this.run<kvrpcpb.CheckSecondaryLocksResponse>(
      "kv_check_secondary_locks",
      kvrpcpb.CheckSecondaryLocksResponse,
      inKeyError(),
      async () => {
        const context = this.context(request.context);
        checkStartTs(request.startTs);
        checkDistinctBatch(request.keys, this.options.limits);
        const status = await this.options.scheduler.write({
          type: "check_secondary_locks",
          context,
          keys: request.keys,
          action: async (reader, txn) => ({
            result: await checkSecondaryLocks(reader, txn, request.keys, request.startTs),
            write: true,
          }),
        });
        switch (status.kind) {
          case "locked":
            return { locks: status.locks.map(({ key, lock }) => lockInfoToProto(key, lock)) };
          case "committed":
            return { commitTs: status.commitTs };
          case "rolled-back":
            return {};
          default:
            return status satisfies never;
        }
      },
    );
  }

  kvResolveLock(request: kvrpcpb.ResolveLockRequest): Promise<kvrpcpb.ResolveLockResponse> {
    return this.run<kvrpcpb.ResolveLockResponse>(
      "kv_resolve_lock",
      kvrpcpb.ResolveLockResponse,
      inKeyError(),
      async () => {
        const context = this.context(request.context);
        const fates = txnFates(request);
        if (request.keys.length > 0) {
          checkDistinctBatch(request.keys, this.options.limits);
          await this.resolveKeys(context, request.keys, fates);
          return {};
        }
        // Every lock of these transactions in the region: find a batch (no latches), then resolve exactly
        // those keys under their latches (re-reading each lock there), until none is left.
        for (let pass = 0; pass < MAX_REGION_PASSES; pass++) {
          const found = await this.leaderRead(context, { kind: "keys", keys: [] }, (region) =>
            scanLocks(
              region.mvcc,
              regionBounds(region),
              (lock) => fates.has(lock.startTs),
              RESOLVE_BATCH_KEYS,
            ),
          );
          if (found.length === 0) return {};
          await this.resolveKeys(
            context,
            found.map(({ key }) => key),
            fates,
          );
          if (found.length < RESOLVE_BATCH_KEYS) return {};
        }
        throw new InvariantError(`resolve lock made no progress after ${MAX_REGION_PASSES} passes`);
      },
    );
  }

  kvTxnHeartBeat(request: kvrpcpb.TxnHeartBeatRequest): Promise<kvrpcpb.TxnHeartBeatResponse> {
    return this.run<kvrpcpb.TxnHeartBeatResponse>(
      "kv_txn_heart_beat",
      kvrpcpb.TxnHeartBeatResponse,
      inKeyError(),
      async () => {
        const context = this.context(request.context);
        checkKey(request.primaryLock, this.options.limits, "primary lock");
        checkStartTs(request.startTs);
        const result = await this.options.scheduler.write({
          type: "txn_heart_beat",
          context,
          keys: [request.primaryLock],
          action: async (reader, txn) => {
            const outcome = await txnHeartBeat(
              reader,
              txn,
              request.primaryLock,
              request.startTs,
              request.adviseLockTtlMs,
            );
            return { result: outcome, write: "ttlMs" in outcome };
          },
        });
        if ("error" in result) throw new KeyErrorException(result.error);
        return { lockTtlMs: result.ttlMs };
      },
    );
  }

  // ---- pessimistic transactions -------------------------------------------------------------------------

  kvPessimisticLock(request: kvrpcpb.PessimisticLockRequest): Promise<kvrpcpb.PessimisticLockResponse> {
    return this.run<kvrpcpb.PessimisticLockResponse>(
      "kv_pessimistic_lock",
      kvrpcpb.PessimisticLockResponse,
      inKeyErrors(),
      async () => {
        const context = this.context(request.context);
        const keys = this.checkPessimisticLock(request);
        const { clock } = this.options;
        const timeoutMs =
          request.waitTimeoutMs < 0n
            ? -1
            : request.waitTimeoutMs === 0n
              ? this.options.defaultLockWaitTimeoutMs
              : Number(request.waitTimeoutMs);
        const deadline = clock.monotonicMs() + Math.max(0, timeoutMs);
        for (;;) {
          let waiting:
            | {
                readonly error: Extract<KeyError, { kind: "locked" }>;
                readonly outcome: Promise<WaitOutcome>;
              }
            | undefined;
          const startedMs = clock.monotonicMs();
          const outcome = await this.options.scheduler.write({
            type: "pessimistic_lock",
            context,
            keys: keys.map(({ key }) => key),
            action: async (reader, txn) => {
              const result = await pessimisticLock(reader, txn, {
                keys,
                primary: request.primaryLock,
                startTs: request.startTs,
                forUpdateTs: request.forUpdateTs,
                lockTtlMs: request.lockTtlMs,
                minCommitTs: request.minCommitTs,
                returnValues: request.returnValues,
              });
              return { result, write: result.kind === "locked-all" };
            },
            whileLatched: (result) => {
              const remainingMs = deadline - clock.monotonicMs();
              if (
                result.kind !== "error" ||
                result.error.kind !== "locked" ||
                timeoutMs < 0 ||
                remainingMs <= 0
              ) {
                return;
              }
              waiting = {
                error: result.error,
                outcome: this.waitForLock(request, result.error, remainingMs),
              };
            },
          });
          if (outcome.kind === "locked-all") {
            if (!request.returnValues) return {};
            return {
              values: outcome.values.map((value) => value ?? new Uint8Array(0)),
              notFounds: outcome.values.map((value) => value === undefined),
            };
          }
          if (waiting === undefined) return { errors: [keyErrorToProto(outcome.error)] };
          const waited = this.waitEnded(waiting.error, await waiting.outcome, startedMs);
          if (waited !== undefined) return { errors: [keyErrorToProto(waited)] };
        }
      },
    );
  }

  kvPessimisticRollback(
    request: kvrpcpb.PessimisticRollbackRequest,
  ): Promise<kvrpcpb.PessimisticRollbackResponse> {
    return this.run<kvrpcpb.PessimisticRollbackResponse>(
      "kv_pessimistic_rollback",
      kvrpcpb.PessimisticRollbackResponse,
      inKeyErrors(),
      async () => {
        const context = this.context(request.context);
        checkStartTs(request.startTs);
        checkDistinctBatch(request.keys, this.options.limits);
        await this.options.scheduler.write({
          type: "pessimistic_rollback",
          context,
          keys: request.keys,
          action: async (reader, txn) => {
            await pessimisticRollback(reader, txn, request.keys, request.startTs, request.forUpdateTs);
            return { result: undefined, write: true };
          },
        });
        return {};
      },
    );
  }

  // ---- garbage ------------------------------------------------------------------------------------------

  kvGc(request: kvrpcpb.GCRequest): Promise<kvrpcpb.GCResponse> {
    return this.run<kvrpcpb.GCResponse>("kv_gc", kvrpcpb.GCResponse, inKeyError(), async () => {
      const context = this.context(request.context);
      if (request.safePoint === 0n) throw new InvalidRequestError("safe_point is 0");
      let nextKey: Uint8Array | undefined;
      for (let pass = 0; pass < MAX_REGION_PASSES; pass++) {
        // GC takes no latches: it removes only versions below the safe point, which no command reads or writes.
        const step = await this.options.scheduler.write({
          type: "gc",
          context,
          keys: [],
          action: async (reader, txn, region) => {
            const bounds = regionBounds(region);
            const startKey =
              nextKey !== undefined && compareBytes(nextKey, bounds.startKey) > 0 ? nextKey : bounds.startKey;
            const result = await gcRange(
              reader.storage,
              txn,
              { startKey, endKey: bounds.endKey },
              request.safePoint,
              GC_BATCH_KEYS,
            );
            return { result, write: true };
          },
        });
        if (step.nextKey === undefined) return {};
        nextKey = step.nextKey;
      }
      throw new InvariantError(`GC made no progress after ${MAX_REGION_PASSES} passes`);
    });
  }

  kvDeleteRange(request: kvrpcpb.DeleteRangeRequest): Promise<kvrpcpb.DeleteRangeResponse> {
    return this.run<kvrpcpb.DeleteRangeResponse>(
      "kv_delete_range",
      kvrpcpb.DeleteRangeResponse,
      inErrorText(),
      async () => {
        const context = this.context(request.context);
        checkRange(request.startKey, request.endKey, this.options.limits);
        await this.options.store.deleteTxnRange(context, request.startKey, request.endKey);
        return {};
      },
    );
  }

  unsafeDestroyRange(
    request: kvrpcpb.UnsafeDestroyRangeRequest,
  ): Promise<kvrpcpb.UnsafeDestroyRangeResponse> {
    return this.run<kvrpcpb.UnsafeDestroyRangeResponse>(
      "unsafe_destroy_range",
      kvrpcpb.UnsafeDestroyRangeResponse,
      inErrorText(),
      async () => {
        this.context(request.context);
        if (request.startKey.length === 0 && request.endKey.length === 0) {
          throw new InvalidRequestError(
            "refusing to destroy the whole key space: give a start or an end key",
          );
        }
        checkRange(request.startKey, request.endKey, this.options.limits);
        await this.options.store.unsafeDestroyRange(request.startKey, request.endKey);
        return {};
      },
    );
  }

  mvccGetByKey(request: kvrpcpb.MvccGetByKeyRequest): Promise<kvrpcpb.MvccGetByKeyResponse> {
    return this.run<kvrpcpb.MvccGetByKeyResponse>(
      "mvcc_get_by_key",
      kvrpcpb.MvccGetByKeyResponse,
      inErrorText(),
      async () => {
        const context = this.context(request.context);
        checkKey(request.key, this.options.limits);
        const history = await this.leaderRead(context, { kind: "keys", keys: [request.key] }, (region) =>
          keyHistory(region.mvcc, request.key, MAX_HISTORY_VERSIONS),
        );
        return {
          lock: history.lock === undefined ? undefined : lockInfoToProto(request.key, history.lock),
          writes: history.writes.map(({ commitTs, write }) => ({
            type: WRITE_TYPE_TO_PROTO[write.type],
            startTs: write.startTs,
            commitTs,
            shortValue: write.shortValue ?? new Uint8Array(0),
            hasOverlappedRollback: write.hasOverlappedRollback,
          })),
          values: [...history.values],
          truncated: history.truncated,
        };
      },
    );
  }

  // ---- helpers ------------------------------------------------------------------------------------------

  private context(context: kvrpcpb.Context | undefined): kvrpcpb.Context {
    return checkContext(context, this.options.store.storeId);
  }

  /**
   * Transactional reads are served by the leader only: max_ts (which async commit relies on) lives on the
   * leader, and a follower could not raise it.
   */
  private leaderRead<T>(
    context: kvrpcpb.Context,
    check: Parameters<TxnStore["read"]>[1],
    readFn: (region: RegionReader) => Promise<T>,
  ): Promise<T> {
    return this.options.store.read({ ...context, replicaRead: false }, check, readFn);
  }

  private async resolveKeys(
    context: kvrpcpb.Context,
    keys: readonly Uint8Array[],
    fates: ReadonlyMap<bigint, bigint>,
  ): Promise<void> {
    const error = await this.options.scheduler.write({
      type: "resolve_lock",
      context,
      keys,
      action: async (reader, txn) => {
        const locks: Array<{ key: Uint8Array; lock: LockRecord }> = [];
        for (const key of keys) {
          const lock = await reader.loadLock(key);
          if (lock !== undefined) locks.push({ key, lock });
        }
        const keyError = await resolveLocks(reader, txn, locks, fates);
        return { result: keyError, write: keyError === undefined };
      },
    });
    if (error !== undefined) throw new KeyErrorException(error);
  }

  /** Registers a waiter for the lock in `locked` (synchronously: see whileLatched). */
  private waitForLock(
    request: kvrpcpb.PessimisticLockRequest,
    locked: Extract<KeyError, { kind: "locked" }>,
    timeoutMs: number,
  ): Promise<WaitOutcome> {
    return this.options.lockWaiter.wait({
      startTs: request.startTs,
      key: locked.key,
      keyHash: keyHash(locked.key),
      lockTs: locked.lock.startTs,
      timeoutMs,
      isFirstLock: request.isFirstLock,
    });
  }

  /** The error that ends the request after a wait, or undefined to try the lock again. */
  private waitEnded(
    locked: Extract<KeyError, { kind: "locked" }>,
    outcome: WaitOutcome,
    startedMs: number,
  ): KeyError | undefined {
    const { metrics, clock } = this.options;
    metrics.lockWaits.inc({ outcome: outcome.kind });
    metrics.lockWaitDuration.observe((clock.monotonicMs() - startedMs) / 1000);
    switch (outcome.kind) {
      case "woken":
        return undefined;
      case "timeout":
      case "cancelled":
        return locked;
      case "deadlock":
        metrics.deadlocks.inc();
        return {
          kind: "deadlock",
          lockTs: outcome.lockTs,
          lockKey: outcome.lockKey,
          deadlockKeyHash: outcome.deadlockKeyHash,
          waitChain: outcome.waitChain,
        };
      case "too-many-waiters":
        throw new ServerIsBusyError(
          `${outcome.maxWaiters} lock waiters on the store`,
          LOCK_WAITERS_BUSY_BACKOFF_MS,
        );
      default:
        return outcome satisfies never;
    }
  }

  private checkPrewrite(request: kvrpcpb.PrewriteRequest): TxnMutation[] {
    checkStartTs(request.startTs);
    if (request.mutations.length === 0) throw new InvalidRequestError("the prewrite has no mutations");
    checkKey(request.primaryLock, this.options.limits, "primary lock");
    const keys = request.mutations.map((mutation) => mutation.key);
    checkDistinctBatch(
      keys,
      this.options.limits,
      request.mutations.map((mutation) => mutation.value),
    );
    const isPessimistic = request.forUpdateTs > 0n;
    if (
      request.isPessimisticLock.length !== 0 &&
      request.isPessimisticLock.length !== request.mutations.length
    ) {
      throw new InvalidRequestError(
        `is_pessimistic_lock has ${request.isPessimisticLock.length} flags for ${request.mutations.length} mutations`,
      );
    }
    if (!isPessimistic && request.isPessimisticLock.some(Boolean)) {
      throw new InvalidRequestError(
        "is_pessimistic_lock is set but for_update_ts is 0 (an optimistic transaction)",
      );
    }
    if (request.secondaries.length > 0 && !request.useAsyncCommit) {
      throw new InvalidRequestError("secondaries are only meaningful with use_async_commit");
    }
    return request.mutations.map((mutation, index) => {
      const op = prewriteOp(mutation.op);
      if (op === undefined) {
        throw new InvalidRequestError(
          `mutation ${index} has op ${mutation.op}, which a prewrite does not accept`,
        );
      }
      return { op, key: mutation.key, value: mutation.value };
    });
  }

  private checkPessimisticLock(
    request: kvrpcpb.PessimisticLockRequest,
  ): Array<{ readonly key: Uint8Array; readonly shouldNotExist: boolean }> {
    checkStartTs(request.startTs);
    if (request.forUpdateTs < request.startTs) {
      throw new InvalidRequestError(
        `for_update_ts ${request.forUpdateTs} is below start_ts ${request.startTs}`,
      );
    }
    checkKey(request.primaryLock, this.options.limits, "primary lock");
    checkDistinctBatch(
      request.mutations.map((mutation) => mutation.key),
      this.options.limits,
    );
    return request.mutations.map((mutation, index) => {
      const shouldNotExist = mutation.op === kvrpcpb.Op.CHECK_NOT_EXISTS || mutation.op === kvrpcpb.Op.INSERT;
      if (mutation.op !== kvrpcpb.Op.PESSIMISTIC_LOCK && !shouldNotExist) {
        throw new InvalidRequestError(
          `mutation ${index} has op ${mutation.op}; a pessimistic lock takes PESSIMISTIC_LOCK, INSERT or CHECK_NOT_EXISTS`,
        );
      }
      return { key: mutation.key, shouldNotExist };
    });
  }

  /** Runs one request, turning every failure into its response form, and records its metrics. */
  private run<Response>(
    type: string,
    responseType: ResponseType<Response>,
    failure: FailureShape<Response>,
    work: () => Promise<kvrpcpb.DeepPartial<Response>>,
  ): Promise<Response> {
    return runRequest(this.runner, {
      type,
      responseType,
      work,
      outcomeOf: (partial) => {
        const answer = partial as { error?: unknown; errors?: readonly unknown[] };
        const failed =
          (answer.error !== undefined && answer.error !== "") || (answer.errors?.length ?? 0) > 0;
        return failed ? "key_error" : "ok";
      },
      failure: (regionError, error) => {
        if (regionError !== undefined)
          return { partial: failure(regionError, undefined), outcome: "region_error" };
        if (error instanceof KeyErrorException) {
          return { partial: failure(undefined, keyErrorToProto(error.keyError)), outcome: "key_error" };
        }
        return {
          partial: failure(undefined, keyErrorToProto({ kind: "abort", reason: describeFailure(error) })),
          outcome: "error",
        };
      },
    });
  }
}

/** A store full of lock waiters is overloaded by contention; the client retries after a pause. */
const LOCK_WAITERS_BUSY_BACKOFF_MS = 100;

function readOptions(readTs: bigint, context: kvrpcpb.Context): ReadOptions {
  return { readTs, resolvedLocks: new Set(context.resolvedLocks) };
}

function checkStartTs(startTs: bigint): void {
  if (startTs === 0n) throw new InvalidRequestError("start_ts is 0");
}

function checkDistinctBatch(
  keys: readonly Uint8Array[],
  limits: RequestLimits,
  values: readonly Uint8Array[] = [],
): void {
  checkBatch(keys, values, limits);
  const seen = new Set<string>();
  keys.forEach((key, index) => {
    const name = Buffer.from(key).toString("latin1");
    if (seen.has(name)) throw new InvalidRequestError(`key ${index} of the batch appears twice`);
    seen.add(name);
  });
}

function txnFates(request: kvrpcpb.ResolveLockRequest): Map<bigint, bigint> {
  const infos =
    request.txnInfos.length > 0
      ? request.txnInfos
      : [{ startTs: request.startTs, commitTs: request.commitTs }];
  const fates = new Map<bigint, bigint>();
  for (const info of infos) {
    checkStartTs(info.startTs);
    if (info.commitTs !== 0n && info.commitTs <= info.startTs) {
      throw new InvalidRequestError(
        `commit_ts ${info.commitTs} must be 0 or greater than start_ts ${info.startTs}`,
      );
    }
    fates.set(info.startTs, info.commitTs);
  }
  return fates;
}

function pairToProto(
  pair:
    | { readonly key: Uint8Array; readonly value: Uint8Array }
    | { readonly key: Uint8Array; readonly error: KeyError },
): kvrpcpb.KvPair {
  return "error" in pair
    ? { key: pair.key, value: new Uint8Array(0), error: keyErrorToProto(pair.error) }
    : { key: pair.key, value: pair.value, error: undefined };
}

function regionBounds(region: RegionReader): { startKey: Uint8Array; endKey: Uint8Array } {
  return { startKey: region.region.startKey, endKey: region.region.endKey };
}

/** [lower, upper) intersected with the region's range (an empty upper means unbounded on both sides). */
function clipToRegion(
  lowerKey: Uint8Array,
  upperKey: Uint8Array,
  region: RegionReader,
): { startKey: Uint8Array; endKey: Uint8Array } {
  const { startKey: regionStart, endKey: regionEnd } = region.region;
  const startKey = compareBytes(lowerKey, regionStart) < 0 ? regionStart : lowerKey;
  let endKey = upperKey;
  if (regionEnd.length > 0 && (endKey.length === 0 || compareBytes(endKey, regionEnd) > 0))
    endKey = regionEnd;
  return { startKey, endKey };
}

function memoryLockOf(request: kvrpcpb.PrewriteRequest, mutation: TxnMutation): LockRecord {
  return {
    type: mutation.op === "delete" ? "delete" : mutation.op === "lock" ? "lock" : "put",
    primary: request.primaryLock,
    startTs: request.startTs,
    ttlMs: request.lockTtlMs,
    shortValue: undefined,
    forUpdateTs: request.forUpdateTs,
    txnSize: request.txnSize,
    minCommitTs: 0n,
    useAsyncCommit: request.useAsyncCommit,
    secondaries: [],
  };
}

function maxOf(...values: bigint[]): bigint {
  return values.reduce((left, right) => (right > left ? right : left));
}

function describeProtoKeyError(error: kvrpcpb.KeyError): string {
  return error.abort || JSON.stringify(kvrpcpb.KeyError.toJSON(error));
}
