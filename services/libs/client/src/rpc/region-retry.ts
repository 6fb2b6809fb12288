/**
 * The retry state of one operation (or one sub-request of a batch): its backoffer plus a bound on retries
 * taken without sleeping. NotLeader with a hint and EpochNotMatch retry at once, as TiKV's client does; but
 * two stores naming each other as leader, or a region splitting faster than we follow, would then spin
 * without ever touching the budget, so after a run of free retries the next one sleeps (regionScheduling).
 *
 * Sub-requests that run in parallel (one per region of a batch) each get what is left of the budget, as
 * TiKV's Backoffer.Fork does: the budget bounds how long any one chain of retries waits. Sharing one budget
 * between siblings would charge parallel sleeps as if they were serial, so a batch over 60 regions that
 * each wait out a 1 s leader election would give up after a fraction of that second.
 */
import { type BackoffKind, BackoffKinds } from "../backoff/backoff-kind.ts";
import type { Backoffer } from "../backoff/backoffer.ts";

export const MAX_FREE_RETRIES_IN_A_ROW = 8;

/** Makes a backoffer with the given budget and the operation's clock, timers, random, signal and hooks. */
export type BackofferFactory = (budgetMs: number) => Backoffer;

export class RegionRetry {
  private freeRetriesInARow = 0;

  constructor(
    readonly backoffer: Backoffer,
    private readonly newBackoffer: BackofferFactory,
  ) {}

  /** A fresh operation with the whole `budgetMs`. */
  static start(budgetMs: number, newBackoffer: BackofferFactory): RegionRetry {
    return new RegionRetry(newBackoffer(budgetMs), newBackoffer);
  }

  async backoff(kind: BackoffKind, cause: Error): Promise<void> {
    this.freeRetriesInARow = 0;
    await this.backoffer.backoff(kind, cause);
  }

  /** A retry the error says needs no wait; past the bound it waits anyway. */
  async freeRetry(cause: Error): Promise<void> {
    this.freeRetriesInARow++;
    if (this.freeRetriesInARow > MAX_FREE_RETRIES_IN_A_ROW)
      await this.backoff(BackoffKinds.regionScheduling, cause);
  }

  /** For a sub-request running beside its siblings: the budget left now, spent independently of theirs. */
  fork(): RegionRetry {
    const remainingMs = Math.max(0, this.backoffer.budgetMs - this.backoffer.countedSleepMs);
    return new RegionRetry(this.newBackoffer(remainingMs), this.newBackoffer);
  }
}
