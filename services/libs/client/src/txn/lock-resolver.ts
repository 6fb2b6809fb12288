/**
 * Resolves the locks a reader or writer met (seed 004, client-go's LockResolver). The primary's
 * CheckTxnStatus decides the transaction: committed → commit the lock; rolled back (or expired, which the
 * check rolls back) → roll it back; alive → a reader reads past it when the check pushed min_commit_ts
 * above its start_ts, otherwise the caller backs off until the TTL may have run out. An async-commit
 * transaction is decided by all its keys (CheckSecondaryLocks). Status checks are single-flight per
 * transaction and finished transactions are remembered (bounded), so a hot lock costs one round trip.
 */
import { physicalMsOf } from "#codec";
import { kvrpcpb } from "#proto";
import { keyHex } from "../raw/key-range.ts";
import type { RegionRetry } from "../rpc/region-retry.ts";
import { sendByRegion, sendToKey } from "./region-requests.ts";
import { UnexpectedKeyError } from "./txn-errors.ts";
import type { TxnParts } from "./txn-parts.ts";

/** client-go resolves a small transaction's lock by key and a big one's by region. */
const LITE_RESOLVE_MAX_TXN_SIZE = 16n;

export interface ResolveResult {
  /** How long until the earliest lock that still stands may expire; 0 when none stands. */
  readonly msBeforeExpired: number;
  /** Transactions whose locks the reader may read past (their min_commit_ts is above its start_ts). */
  readonly readPast: readonly bigint[];
}

type TxnStatus =
  | { readonly kind: "committed"; readonly commitTs: bigint }
  | { readonly kind: "rolled-back" }
  | {
      readonly kind: "alive";
      readonly ttlMs: bigint;
      readonly pushed: boolean;
      readonly lock: kvrpcpb.LockInfo | undefined;
    }
  | { readonly kind: "not-found" };

export class LockResolver {
  /** start_ts → commit_ts (0: rolled back) of transactions known to be finished; insertion ordered. */
  private readonly finished = new Map<bigint, bigint>();
  private readonly inFlight = new Map<string, Promise<TxnStatus>>();

  constructor(private readonly parts: TxnParts) {}

  async resolve(
    locks: readonly kvrpcpb.LockInfo[],
    callerStartTs: bigint,
    retry: RegionRetry,
  ): Promise<ResolveResult> {
    let msBeforeExpired = 0;
    const readPast: bigint[] = [];
    for (const lock of locks) {
      const outcome = await this.resolveOne(lock, callerStartTs, retry);
      if (outcome.kind === "read-past") readPast.push(lock.lockTs);
      else if (outcome.kind === "wait") {
        msBeforeExpired = msBeforeExpired === 0 ? outcome.ms : Math.min(msBeforeExpired, outcome.ms);
      }
    }
    return { msBeforeExpired, readPast };
  }

  private async resolveOne(
    lock: kvrpcpb.LockInfo,
    callerStartTs: bigint,
    retry: RegionRetry,
  ): Promise<{ readonly kind: "resolved" | "read-past" } | { readonly kind: "wait"; readonly ms: number }> {
    const known = this.finished.get(lock.lockTs);
    if (known !== undefined) {
      await this.resolveLock(lock, known, retry);
      return { kind: "resolved" };
    }
    const currentTs = await this.parts.tso();
    let status = await this.status(lock, callerStartTs, currentTs, false, retry);
    if (status.kind === "not-found") {
      // No trace of the transaction at its primary: its prewrite may still be on the way. Once the lock we
      // met has expired, a rollback record at the primary settles it for good.
      if (!isExpired(lock.lockTs, lock.lockTtlMs, currentTs)) {
        return { kind: "wait", ms: remainingMs(lock.lockTs, lock.lockTtlMs, currentTs) };
      }
      status = await this.status(lock, callerStartTs, currentTs, true, retry);
    }
    switch (status.kind) {
      case "committed":
        this.remember(lock.lockTs, status.commitTs);
        await this.resolveLock(lock, status.commitTs, retry);
        return { kind: "resolved" };
      case "rolled-back":
        this.remember(lock.lockTs, 0n);
        await this.resolveLock(lock, 0n, retry);
        return { kind: "resolved" };
      case "not-found":
        // Asked to roll back, the store answers rolled back; not found again means it refused to, which
        // only happens for a pessimistic primary that may still be locked: wait for the lock's TTL.
        return { kind: "wait", ms: remainingMs(lock.lockTs, lock.lockTtlMs, currentTs) };
      case "alive": {
        const primaryLock = status.lock;
        if (primaryLock?.useAsyncCommit && isExpired(lock.lockTs, status.ttlMs, currentTs)) {
          const commitTs = await this.decideAsyncCommit(primaryLock, retry);
          this.remember(lock.lockTs, commitTs);
          await this.resolveLock(lock, commitTs, retry);
          return { kind: "resolved" };
        }
        if (status.pushed) return { kind: "read-past" };
        return { kind: "wait", ms: Math.max(1, remainingMs(lock.lockTs, status.ttlMs, currentTs)) };
      }
      default:
        return status satisfies never;
    }
  }

  /** CheckTxnStatus on the primary, one request in flight per transaction and question. */
  private status(
    lock: kvrpcpb.LockInfo,
    callerStartTs: bigint,
    currentTs: bigint,
    rollbackIfNotExist: boolean,
    retry: RegionRetry,
    forceSyncCommit = false,
  ): Promise<TxnStatus> {
    const flightKey = `${lock.lockTs}/${callerStartTs}/${rollbackIfNotExist}/${forceSyncCommit}`;
    const existing = this.inFlight.get(flightKey);
    if (existing !== undefined) return existing;
    const request = this.checkTxnStatus(
      lock,
      callerStartTs,
      currentTs,
      rollbackIfNotExist,
      forceSyncCommit,
      retry,
    );
    this.inFlight.set(flightKey, request);
    const forget = () => this.inFlight.delete(flightKey);
    return request.finally(forget);
  }

  private async checkTxnStatus(
    lock: kvrpcpb.LockInfo,
    callerStartTs: bigint,
    currentTs: bigint,
    rollbackIfNotExist: boolean,
    forceSyncCommit: boolean,
    retry: RegionRetry,
  ): Promise<TxnStatus> {
    const response = await sendToKey(
      this.parts,
      lock.primaryLock,
      "checkTxnStatus",
      (context) =>
        kvrpcpb.CheckTxnStatusRequest.fromPartial({
          context,
          primaryKey: lock.primaryLock,
          lockTs: lock.lockTs,
          callerStartTs,
          currentTs,
          rollbackIfNotExist,
          resolvingPessimisticLock: lock.lockType === kvrpcpb.Op.PESSIMISTIC_LOCK,
          forceSyncCommit,
        }),
      retry,
    );
    if (response.error !== undefined) {
      if (response.error.txnNotFound !== undefined) return { kind: "not-found" };
      throw new UnexpectedKeyError(
        `CheckTxnStatus of transaction ${lock.lockTs} on ${keyHex(lock.primaryLock)}`,
        response.error,
      );
    }
    if (response.commitTs > 0n) return { kind: "committed", commitTs: response.commitTs };
    if (response.lockTtlMs === 0n) return { kind: "rolled-back" };
    return {
      kind: "alive",
      ttlMs: response.lockTtlMs,
      pushed: response.action === kvrpcpb.Action.MIN_COMMIT_TS_PUSHED,
      lock: response.lockInfo,
    };
  }

  /**
   * An expired async-commit transaction is committed iff every key was prewritten: then it commits at the
   * largest min_commit_ts. CheckSecondaryLocks on all keys tells; a key missing its lock gets a rollback
   * record there, which settles the transaction as rolled back. A key prewritten without async commit
   * means the client fell back to 2PC: the primary then decides as a normal lock.
   */
  private async decideAsyncCommit(primary: kvrpcpb.LockInfo, retry: RegionRetry): Promise<bigint> {
    const keys = [primary.key, ...primary.secondaries];
    let committedAt: bigint | undefined;
    let rolledBack = false;
    let fellBack = false;
    let commitTs = primary.minCommitTs;
    await sendByRegion(
      this.parts,
      {
        items: keys,
        keyOf: (key) => key,
        sizeOf: (key) => key.length,
        send: async (location, batch, subRetry) => {
          const build = (context: kvrpcpb.Context) =>
            kvrpcpb.CheckSecondaryLocksRequest.fromPartial({
              context,
              keys: [...batch],
              startTs: primary.lockTs,
            });
          const result = await this.parts.sender.send(location, "checkSecondaryLocks", build, subRetry);
          if (result.kind === "relocate") return false;
          const response = result.response;
          if (response.error !== undefined) {
            throw new UnexpectedKeyError(`CheckSecondaryLocks`, response.error);
          }
          if (response.commitTs > 0n) committedAt = response.commitTs;
          else if (response.locks.length < batch.length) rolledBack = true;
          for (const lock of response.locks) {
            if (!lock.useAsyncCommit) fellBack = true;
            if (lock.minCommitTs > commitTs) commitTs = lock.minCommitTs;
          }
          return true;
        },
      },
      retry,
    );
    if (committedAt !== undefined) return committedAt;
    if (rolledBack) return 0n;
    if (fellBack) {
      const status = await this.status(primary, 0n, await this.parts.tso(), true, retry, true);
      if (status.kind === "committed") return status.commitTs;
      if (status.kind === "rolled-back") return 0n;
      throw new UnexpectedKeyError(
        `transaction ${primary.lockTs} fell back to 2PC and its primary is still alive`,
      );
    }
    return commitTs;
  }

  /** Commits (commit_ts > 0) or rolls back the transaction's lock on `lock.key` (or on its whole region). */
  private async resolveLock(lock: kvrpcpb.LockInfo, commitTs: bigint, retry: RegionRetry): Promise<void> {
    if (lock.lockType === kvrpcpb.Op.PESSIMISTIC_LOCK) {
      // A pessimistic lock guarded no write: removing it is all there is to do, committed or not.
      const response = await sendToKey(
        this.parts,
        lock.key,
        "pessimisticRollback",
        (context) => ({ context, startTs: lock.lockTs, forUpdateTs: lock.lockForUpdateTs, keys: [lock.key] }),
        retry,
      );
      if (response.errors.length > 0) {
        throw new UnexpectedKeyError(`PessimisticRollback`, response.errors[0]!);
      }
      return;
    }
    const lite = lock.txnSize < LITE_RESOLVE_MAX_TXN_SIZE;
    const response = await sendToKey(
      this.parts,
      lock.key,
      "resolveLock",
      (context) =>
        kvrpcpb.ResolveLockRequest.fromPartial({
          context,
          startTs: lock.lockTs,
          commitTs,
          keys: lite ? [lock.key] : [],
        }),
      retry,
    );
    if (response.error !== undefined) {
      throw new UnexpectedKeyError(`ResolveLock`, response.error);
    }
  }

  private remember(startTs: bigint, commitTs: bigint): void {
    this.finished.set(startTs, commitTs);
    if (this.finished.size > this.parts.settings.resolvedCacheSize) {
      const oldest = this.finished.keys().next().value;
      if (oldest !== undefined) this.finished.delete(oldest);
    }
  }
}

function isExpired(lockTs: bigint, ttlMs: bigint, currentTs: bigint): boolean {
  return physicalMsOf(lockTs) + ttlMs < physicalMsOf(currentTs);
}

function remainingMs(lockTs: bigint, ttlMs: bigint, currentTs: bigint): number {
  const remaining = physicalMsOf(lockTs) + ttlMs - physicalMsOf(currentTs);
  return remaining > 0n ? Number(remaining) : 0;
}
