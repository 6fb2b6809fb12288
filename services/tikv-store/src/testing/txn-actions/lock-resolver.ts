/**
 * The client's lock resolver (client-go's txnlock, seed 004), over TxnRequests: a reader or writer that
 * meets a lock asks the primary what became of its transaction (CheckTxnStatus) and then commits or rolls
 * the lock back, reads past it (its min_commit_ts was pushed above the reader), or waits. An expired
 * async-commit primary is decided from all of its keys (CheckSecondaryLocks).
 */
import type { LockRecord } from "../../mvcc/lock-record.ts";
import { isExpired } from "../../txn/actions/batch-rollback.ts";
import type { TxnStatus } from "../../txn/actions/check-txn-status.ts";
import type { TimestampOracle, TxnRequests } from "./txn-requests.ts";

function describe(status: TxnStatus): string {
  switch (status.kind) {
    case "error":
      return status.error.kind;
    case "committed":
      return `committed at ${status.commitTs}`;
    case "rolled-back":
      return `rolled back (${status.action})`;
    case "alive":
      return `alive (${status.action}${status.lock.useAsyncCommit ? ", async commit" : ""})`;
    default:
      return status satisfies never;
  }
}

/** resolved: the lock is gone, try again. read-past: the reader may ignore the transaction's locks. */
export type ResolveOutcome = "resolved" | "read-past" | "wait";

/** A broken rule of the protocol that no client could recover from. */
export class ResolverInvariantError extends Error {
  override readonly name = "ResolverInvariantError";
}

export class LockResolver {
  constructor(
    private readonly requests: TxnRequests,
    private readonly tso: TimestampOracle,
    private readonly trace: string[],
  ) {}

  /** `readerTs` is the read_ts of a reader that met the lock; 0 for a writer. */
  async resolve(key: Uint8Array, lock: LockRecord, readerTs: bigint): Promise<ResolveOutcome> {
    const currentTs = await this.tso.getTimestamp();
    const status = await this.requests.checkTxnStatus({
      primary: lock.primary,
      lockTs: lock.startTs,
      callerStartTs: readerTs,
      currentTs,
      rollbackIfNotExist: isExpired(lock.startTs, lock.ttlMs, currentTs),
      resolvingPessimisticLock: lock.type === "pessimistic",
      forceSyncCommit: false,
    });
    this.trace.push(`resolver: transaction ${lock.startTs} is ${describe(status)}`);
    switch (status.kind) {
      case "error":
        return "wait";
      case "committed":
        await this.commitKeys([key], lock.startTs, status.commitTs);
        return "resolved";
      case "rolled-back":
        await this.rollBack(key, lock);
        return "resolved";
      case "alive":
        if (status.lock.useAsyncCommit) {
          if (!isExpired(status.lock.startTs, status.lock.ttlMs, currentTs)) return "wait";
          await this.resolveAsyncCommit(lock.primary, status.lock);
          return "resolved";
        }
        return readerTs > 0n && status.action === "min-commit-ts-pushed" ? "read-past" : "wait";
      default:
        return status satisfies never;
    }
  }

  private async rollBack(key: Uint8Array, lock: LockRecord): Promise<void> {
    if (lock.type === "pessimistic") {
      await this.requests.pessimisticRollback([key], lock.startTs, lock.forUpdateTs);
      return;
    }
    await this.rollBackKeys([key], lock.startTs);
  }

  /** The transaction committed iff every key was prewritten; its commit_ts is their largest min_commit_ts. */
  private async resolveAsyncCommit(primary: Uint8Array, primaryLock: LockRecord): Promise<void> {
    const { startTs } = primaryLock;
    const result = await this.requests.checkSecondaryLocks(primaryLock.secondaries, startTs);
    const keys = [primary, ...primaryLock.secondaries];
    this.trace.push(`resolver: async-commit transaction ${startTs} is ${result.kind} by its secondaries`);
    if (result.kind === "rolled-back") {
      await this.rollBackKeys(keys, startTs);
      return;
    }
    let commitTs = primaryLock.minCommitTs;
    if (result.kind === "committed") commitTs = result.commitTs;
    else for (const { lock } of result.locks) if (lock.minCommitTs > commitTs) commitTs = lock.minCommitTs;
    await this.commitKeys(keys, startTs, commitTs);
  }

  /** A BatchRollback, not a ResolveLock: it also protects keys whose lock is gone. */
  private async rollBackKeys(keys: readonly Uint8Array[], startTs: bigint): Promise<void> {
    const error = await this.requests.batchRollback(keys, startTs);
    if (error !== undefined) {
      throw new ResolverInvariantError(`rolling back transaction ${startTs}: ${error.kind}`);
    }
  }

  private async commitKeys(keys: readonly Uint8Array[], startTs: bigint, commitTs: bigint): Promise<void> {
    const error = await this.requests.commitLocks(keys, startTs, commitTs);
    if (error !== undefined) {
      throw new ResolverInvariantError(`resolving transaction ${startTs} at ${commitTs}: ${error.kind}`);
    }
  }
}
