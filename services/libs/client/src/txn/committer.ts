/**
 * Two-phase commit of a transaction's writes (Percolator, client-go's twoPhaseCommitter): prewrite every
 * key (batched by region and size, regions in parallel), take commit_ts from the TSO, commit the primary
 * — the moment the transaction is committed — then commit the secondaries in the background, owned by
 * the client's task scope (a secondary left locked is resolved by any reader, so the caller need not
 * wait).
 *
 * Outcomes are never guessed. Before the primary's commit a failure leaves the transaction uncommitted
 * (its locks are rolled back in the background). The primary's commit is resent only with the same
 * commit_ts (idempotent: a commit that already happened answers success); if no answer comes at all the
 * caller gets UndeterminedCommitError, never success or failure.
 */
import { composeTimestamp } from "#codec";
import { kvrpcpb } from "#proto";
import { BackoffKinds } from "../backoff/backoff-kind.ts";
import { keyHex } from "../raw/key-range.ts";
import { RegionRetry } from "../rpc/region-retry.ts";
import { UnknownOutcomeError } from "../rpc/rpc-errors.ts";
import type { LockResolver } from "./lock-resolver.ts";
import type { BufferedWrite } from "./mem-buffer.ts";
import { sendByRegion, sendToKey } from "./region-requests.ts";
import {
  KeyExistsError,
  TxnAbortedError,
  UndeterminedCommitError,
  UnexpectedKeyError,
  WriteConflictError,
} from "./txn-errors.ts";
import type { TxnParts } from "./txn-parts.ts";

export interface CommitPlan {
  readonly startTs: bigint;
  /** In key order; at least one. */
  readonly writes: readonly BufferedWrite[];
  /** The primary key: the first key a pessimistic transaction locked, else the first write. */
  readonly primary: Uint8Array;
  /** 0 for an optimistic transaction. */
  readonly forUpdateTs: bigint;
  /** Hex keys holding this transaction's pessimistic lock. */
  readonly pessimisticLocked: ReadonlySet<string>;
  readonly sizeBytes: number;
  /** When the transaction began (its TTL grows with its age). */
  readonly startedAtMs: number;
}

/** client-go's TTL: 3 s, growing with the square root of the size from 1 MiB on, capped at 20 s. */
export function lockTtlMs(sizeBytes: number, ageMs: number): bigint {
  const sizeMiB = sizeBytes / (1024 * 1024);
  const bySize = sizeMiB >= 1 ? Math.min(20_000, Math.max(3_000, 6_000 * Math.sqrt(sizeMiB))) : 3_000;
  return BigInt(Math.floor(bySize + Math.max(0, ageMs)));
}

/** client-go's async-commit limits: the primary lists every secondary, so the transaction must be small. */
const ASYNC_COMMIT_MAX_KEYS = 256;
const ASYNC_COMMIT_MAX_BYTES = 4096;
/** How far above now async commit and 1PC may commit before falling back to 2PC. */
const MAX_COMMIT_TS_WINDOW_MS = 2_000n;

type CommitMode = "2pc" | "async" | "1pc";

interface PrewriteOutcome {
  /** Async commit: the largest min_commit_ts the prewrites returned. */
  readonly minCommitTs: bigint;
  /** 1PC: the commit_ts the store committed at; 0 when it did not. */
  readonly onePcCommitTs: bigint;
  /** Async commit or 1PC gave way to 2PC for at least one batch. */
  readonly fellBack: boolean;
}

export class Committer {
  constructor(
    private readonly parts: TxnParts,
    private readonly resolver: LockResolver,
  ) {}

  /**
   * Commits `plan`; resolves with its commit_ts once the transaction is committed: after the primary's
   * commit (2PC), after the last prewrite (async commit), or with the prewrite itself (1PC).
   */
  async commit(plan: CommitPlan): Promise<bigint> {
    const { failpoints, closed } = this.parts;
    await failpoints.reach("txn.before-prewrite", closed);
    const mode = await this.chooseMode(plan);
    let prewritten: PrewriteOutcome;
    try {
      prewritten = await this.prewrite(plan, mode);
    } catch (error) {
      this.rollbackInBackground(plan);
      throw error;
    }
    await failpoints.reach("txn.after-prewrite", closed);
    if (prewritten.onePcCommitTs > 0n) return prewritten.onePcCommitTs;
    if (mode === "async" && !prewritten.fellBack) {
      // Committed: every key is prewritten, at the largest min_commit_ts. Committing the locks only
      // spares readers the resolving.
      this.commitInBackground(plan, plan.writes, prewritten.minCommitTs);
      return prewritten.minCommitTs;
    }
    const commitTs = await this.commitPrimary(plan);
    await failpoints.reach("txn.after-commit-primary", closed);
    this.commitInBackground(
      plan,
      plan.writes.filter((write) => keyHex(write.key) !== keyHex(plan.primary)),
      commitTs,
    );
    return commitTs;
  }

  /**
   * 1PC when every write fits one request to one region; async commit for small transactions (client-go's
   * limits: 256 keys, 4 KiB); 2PC otherwise.
   */
  private async chooseMode(plan: CommitPlan): Promise<CommitMode> {
    const { settings } = this.parts;
    const fitsOneRequest =
      plan.writes.length <= settings.maxKeysPerRequest && plan.sizeBytes <= settings.maxBytesPerRequest;
    if (settings.enableOnePc && fitsOneRequest) {
      const backoffer = this.parts.newBackoffer(settings.prewriteBudgetMs);
      const groups = await this.parts.cache.groupKeysByRegion(
        plan.writes.map((write) => write.key),
        backoffer,
      );
      if (groups.size === 1) return "1pc";
    }
    const small = plan.writes.length <= ASYNC_COMMIT_MAX_KEYS && plan.sizeBytes <= ASYNC_COMMIT_MAX_BYTES;
    return settings.enableAsyncCommit && small ? "async" : "2pc";
  }

  private async prewrite(plan: CommitPlan, mode: CommitMode): Promise<PrewriteOutcome> {
    const { clock } = this.parts.settings;
    const ttl = lockTtlMs(plan.sizeBytes, clock.monotonicMs() - plan.startedAtMs);
    const retry = new RegionRetry(this.parts.newBackoffer(this.parts.settings.prewriteBudgetMs));
    const secondaries = plan.writes
      .map((write) => write.key)
      .filter((key) => keyHex(key) !== keyHex(plan.primary));
    // Async commit and 1PC let the stores pick commit_ts; this bounds how far above now a reader's push may
    // take it, or the client falls back to 2PC (the stores answer CommitTsTooLarge).
    const maxCommitTs = composeTimestamp(BigInt(clock.nowMs()) + MAX_COMMIT_TS_WINDOW_MS, 0n);
    let minCommitTs = 0n;
    let onePcCommitTs = 0n;
    let fellBack = false;
    await sendByRegion(
      this.parts,
      {
        items: plan.writes,
        keyOf: (write) => write.key,
        sizeOf: (write) => write.key.length + (write.kind === "put" ? write.value.length : 0),
        send: async (location, batch, subRetry) => {
          // 1PC only for the whole transaction in one request: a batch regrouped after a split goes by 2PC.
          let onePc = mode === "1pc" && batch.length === plan.writes.length;
          let asyncCommit = mode === "async" && !fellBack;
          if (mode === "1pc" && !onePc) fellBack = true;
          for (;;) {
            const build = (context: kvrpcpb.Context) =>
              kvrpcpb.PrewriteRequest.fromPartial({
                context,
                mutations: batch.map(mutationOf),
                primaryLock: plan.primary,
                startTs: plan.startTs,
                lockTtlMs: ttl,
                txnSize: BigInt(plan.writes.length),
                forUpdateTs: plan.forUpdateTs,
                isPessimisticLock:
                  plan.forUpdateTs > 0n
                    ? batch.map((write) => plan.pessimisticLocked.has(keyHex(write.key)))
                    : [],
                // Lets readers push the lock instead of waiting for it.
                minCommitTs: plan.startTs + 1n,
                useAsyncCommit: asyncCommit,
                secondaries: asyncCommit ? secondaries : [],
                tryOnePc: onePc,
                maxCommitTs: asyncCommit || onePc ? maxCommitTs : 0n,
              });
            let response: kvrpcpb.PrewriteResponse;
            try {
              const result = await this.parts.sender.send(location, "prewrite", build, subRetry);
              if (result.kind === "relocate") return false;
              response = result.response;
            } catch (error) {
              // A prewrite is idempotent (a retry finds its own locks), so an unknown outcome is simply retried.
              if (!(error instanceof UnknownOutcomeError)) throw error;
              await subRetry.backoff(BackoffKinds.tikvRPC, error);
              continue;
            }
            if (response.errors.length === 0) {
              if (response.minCommitTs > minCommitTs) minCommitTs = response.minCommitTs;
              if (response.onePcCommitTs > 0n) onePcCommitTs = response.onePcCommitTs;
              return true;
            }
            if (response.errors.some((error) => error.commitTsTooLarge !== undefined)) {
              // The stores would commit too far ahead: this batch, and the transaction, go by 2PC.
              fellBack = true;
              asyncCommit = false;
              onePc = false;
              continue;
            }
            await this.onPrewriteErrors(plan, response.errors, subRetry);
          }
        },
      },
      retry,
    );
    return { minCommitTs, onePcCommitTs, fellBack };
  }

  /** Throws the error that ends the prewrite, or resolves the locks in the way (then the batch is resent). */
  private async onPrewriteErrors(
    plan: CommitPlan,
    errors: readonly kvrpcpb.KeyError[],
    retry: RegionRetry,
  ): Promise<void> {
    const locks: kvrpcpb.LockInfo[] = [];
    for (const error of errors) {
      if (error.locked !== undefined) {
        locks.push(error.locked);
        continue;
      }
      if (error.conflict !== undefined) {
        const conflict = error.conflict;
        throw new WriteConflictError(
          conflict.key,
          plan.startTs,
          conflict.conflictTs,
          conflict.conflictCommitTs,
        );
      }
      if (error.alreadyExist !== undefined) throw new KeyExistsError(error.alreadyExist.key);
      if (error.abort !== "") throw new TxnAbortedError(`transaction ${plan.startTs}: ${error.abort}`);
      throw new UnexpectedKeyError(`prewrite`, error);
    }
    // A writer cannot read past a lock: it waits for the other transaction to finish or expire.
    const result = await this.resolver.resolve(locks, 0n, retry);
    if (result.msBeforeExpired > 0) {
      await retry.backoff(
        BackoffKinds.txnLock,
        new Error(`${locks.length} keys locked by other transactions`),
      );
    }
  }

  private async commitPrimary(plan: CommitPlan): Promise<bigint> {
    const retry = new RegionRetry(this.parts.newBackoffer(this.parts.settings.commitBudgetMs));
    let commitTs = await this.parts.tso();
    let unknown: unknown;
    for (;;) {
      let response: kvrpcpb.CommitResponse;
      try {
        response = await sendToKey(
          this.parts,
          plan.primary,
          "commit",
          (context) => ({ context, keys: [plan.primary], startTs: plan.startTs, commitTs }),
          retry,
        );
      } catch (error) {
        if (error instanceof UnknownOutcomeError && unknown === undefined) {
          // The same commit_ts again: if the first attempt applied, this one finds its record and succeeds.
          unknown = error;
          await retry.backoff(BackoffKinds.tikvRPC, error).catch((budget: unknown) => {
            throw new UndeterminedCommitError(plan.startTs, commitTs, budget);
          });
          continue;
        }
        if (unknown !== undefined || error instanceof UnknownOutcomeError) {
          throw new UndeterminedCommitError(plan.startTs, commitTs, unknown ?? error);
        }
        throw error;
      }
      const error = response.error;
      if (error === undefined) return commitTs;
      if (error.commitTsExpired !== undefined && unknown === undefined) {
        // A reader pushed the primary above commit_ts; nothing is committed yet, so a newer one is safe.
        commitTs = await this.parts.tso();
        continue;
      }
      if (unknown !== undefined) throw new UndeterminedCommitError(plan.startTs, commitTs, unknown);
      if (error.txnNotFound !== undefined) {
        throw new TxnAbortedError(
          `transaction ${plan.startTs} was rolled back by a lock resolver before it committed`,
        );
      }
      throw new UnexpectedKeyError(`commit of the primary`, error);
    }
  }

  /** Commits `writes`' locks at `commitTs` in the background; a lock left behind is resolved by readers. */
  private commitInBackground(plan: CommitPlan, writes: readonly BufferedWrite[], commitTs: bigint): void {
    if (writes.length === 0) return;
    this.spawn(`commit the locks of ${plan.startTs}`, async () => {
      const retry = new RegionRetry(this.parts.newBackoffer(this.parts.settings.commitBudgetMs));
      await sendByRegion(
        this.parts,
        {
          items: writes,
          keyOf: (write) => write.key,
          sizeOf: (write) => write.key.length,
          send: async (location, batch, subRetry) => {
            const build = (context: kvrpcpb.Context) => ({
              context,
              keys: batch.map((write) => write.key),
              startTs: plan.startTs,
              commitTs,
            });
            const result = await this.parts.sender.send(location, "commit", build, subRetry);
            if (result.kind === "relocate") return false;
            if (result.response.error !== undefined) {
              throw new UnexpectedKeyError(
                `commit of a lock of committed transaction ${plan.startTs}`,
                result.response.error,
              );
            }
            return true;
          },
        },
        retry,
      );
    });
  }

  private rollbackInBackground(plan: CommitPlan): void {
    this.spawn(`roll back ${plan.startTs}`, async () => {
      const retry = new RegionRetry(this.parts.newBackoffer(this.parts.settings.commitBudgetMs));
      await sendByRegion(
        this.parts,
        {
          items: plan.writes,
          keyOf: (write) => write.key,
          sizeOf: (write) => write.key.length,
          send: async (location, batch, subRetry) => {
            const build = (context: kvrpcpb.Context) => ({
              context,
              startTs: plan.startTs,
              keys: batch.map((write) => write.key),
            });
            const result = await this.parts.sender.send(location, "batchRollback", build, subRetry);
            return result.kind === "answered";
          },
        },
        retry,
      );
    });
  }

  /** Background work the client owns; beyond its bound the work is skipped (resolvers clean up after us). */
  private spawn(name: string, task: () => Promise<void>): void {
    if (!this.parts.background.spawn(name, task)) {
      this.parts.settings.logger?.warn(
        { task: name },
        "background transaction work skipped: too many tasks or client closing",
      );
    }
  }
}

function mutationOf(write: BufferedWrite): kvrpcpb.Mutation {
  switch (write.kind) {
    case "put":
      return {
        op: write.mustNotExist ? kvrpcpb.Op.INSERT : kvrpcpb.Op.PUT,
        key: write.key,
        value: write.value,
      };
    case "delete":
      return { op: kvrpcpb.Op.DEL, key: write.key, value: new Uint8Array(0) };
    case "lock":
      return { op: kvrpcpb.Op.LOCK, key: write.key, value: new Uint8Array(0) };
    default:
      return write satisfies never;
  }
}
