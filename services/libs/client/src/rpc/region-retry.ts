/**
 * The retry state of one operation (or one sub-request of a batch): its backoffer plus a bound on retries
 * taken without sleeping. NotLeader with a hint and EpochNotMatch retry at once, as TiKV's client does; but
 * two stores naming each other as leader, or a region splitting faster than we follow, would then spin
 * without ever touching the budget, so after a run of free retries the next one sleeps (regionScheduling).
 *
 * Sub-requests that run in parallel (one per region of a batch) each continue from a fork of the
 * backoffer (Backoffer.fork): the budget bounds how long any one chain of retries waits.
 */
import { type BackoffKind, BackoffKinds } from "../backoff/backoff-kind.ts";
import type { Backoffer } from "../backoff/backoffer.ts";

export const MAX_FREE_RETRIES_IN_A_ROW = 8;

export class RegionRetry {
  private freeRetriesInARow = 0;

  constructor(readonly backoffer: Backoffer) {}

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
    return new RegionRetry(this.backoffer.fork());
  }
}
