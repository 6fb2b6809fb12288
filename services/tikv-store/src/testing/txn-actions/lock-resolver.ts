/**
 * The client's lock resolver (client-go's txnlock, seed 004), over the ActionHarness: a reader or writer
 * that meets a lock asks the primary what became of its transaction (CheckTxnStatus) and then commits or
 * rolls the lock back, reads past it (its min_commit_ts was pushed above the reader), or waits. An
 * expired async-commit primary is decided from all of its keys (CheckSecondaryLocks).
 */
import type { LockRecord } from "../../mvcc/lock-record.ts";
import { batchRollback, isExpired } from "../../txn/actions/batch-rollback.ts";
import { checkSecondaryLocks } from "../../txn/actions/check-secondary-locks.ts";
import { checkTxnStatus, type TxnStatus } from "../../txn/actions/check-txn-status.ts";
import { pessimisticRollback } from "../../txn/actions/pessimistic-lock.ts";
import { resolveLocks } from "../../txn/actions/resolve-lock.ts";
import type { ActionHarness } from "./action-harness.ts";
import type { TestClock } from "./test-clock.ts";

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
    private readonly harness: ActionHarness,
    private readonly clock: TestClock,
    private readonly trace: string[],
  ) {}

  /** `readerTs` is the read_ts of a reader that met the lock; 0 for a writer. */
  async resolve(key: Uint8Array, lock: LockRecord, readerTs: bigint): Promise<ResolveOutcome> {
    const currentTs = this.clock.next();
    // The store raises max_ts with a reader's caller_start_ts before checking.
    if (readerTs > 0n) this.harness.observeReadTs(readerTs);
    const { result: status } = await this.harness.run(
      (reader, txn) =>
        checkTxnStatus(reader, txn, {
          primary: lock.primary,
          lockTs: lock.startTs,
          callerStartTs: readerTs,
          currentTs,
          rollbackIfNotExist: isExpired(lock.startTs, lock.ttlMs, currentTs),
          resolvingPessimisticLock: lock.type === "pessimistic",
          forceSyncCommit: false,
        }),
      (outcome) => outcome.kind === "error",
    );
    this.trace.push(`resolver: transaction ${lock.startTs} is ${describe(status)}`);
    switch (status.kind) {
      case "error":
        return "wait";
      case "committed":
        await this.resolveKeys([key], lock.startTs, status.commitTs);
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
      await this.harness.run(
        async (reader, txn) => pessimisticRollback(reader, txn, [key], lock.startTs, lock.forUpdateTs),
        () => false,
      );
      return;
    }
    await this.resolveKeys([key], lock.startTs, 0n);
  }

  /** The transaction committed iff every key was prewritten; its commit_ts is their largest min_commit_ts. */
  private async resolveAsyncCommit(primary: Uint8Array, primaryLock: LockRecord): Promise<void> {
    const { startTs } = primaryLock;
    const { result } = await this.harness.run(
      (reader, txn) => checkSecondaryLocks(reader, txn, primaryLock.secondaries, startTs),
      () => false,
    );
    const keys = [primary, ...primaryLock.secondaries];
    this.trace.push(`resolver: async-commit transaction ${startTs} is ${result.kind} by its secondaries`);
    if (result.kind === "rolled-back") {
      await this.resolveKeys(keys, startTs, 0n);
      return;
    }
    let commitTs = primaryLock.minCommitTs;
    if (result.kind === "committed") commitTs = result.commitTs;
    else for (const { lock } of result.locks) if (lock.minCommitTs > commitTs) commitTs = lock.minCommitTs;
    await this.resolveKeys(keys, startTs, commitTs);
  }

  /** ResolveLock on given keys (lite resolve); a rollback also protects keys whose lock is gone. */
  private async resolveKeys(keys: readonly Uint8Array[], startTs: bigint, commitTs: bigint): Promise<void> {
    const { result: error } = await this.harness.run(
      async (reader, txn) => {
        if (commitTs === 0n) return batchRollback(reader, txn, keys, startTs);
        const locks = [];
        for (const key of keys) {
          const lock = await reader.loadLock(key);
          if (lock !== undefined) locks.push({ key, lock });
        }
        return resolveLocks(reader, txn, locks, new Map([[startTs, commitTs]]));
      },
      (outcome) => outcome !== undefined,
    );
    if (error !== undefined) {
      throw new ResolverInvariantError(`resolving transaction ${startTs} at ${commitTs}: ${error.kind}`);
    }
  }
}
