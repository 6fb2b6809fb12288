/**
 * What to wait after each kind of retryable failure (TiKV client's backoff types). A kind's attempts are
 * counted separately from every other kind's, so a burst of region misses does not lengthen the wait for
 * an unrelated lock.
 */
import type { JitterKind } from "./jitter.ts";

export interface BackoffKind {
  /** Label in errors, logs and the metric `client_backoff_total{kind}`. */
  readonly name: string;
  readonly baseMs: number;
  readonly capMs: number;
  readonly jitter: JitterKind;
  /**
   * False for waits the server asked for (ServerIsBusy): the operation is not failing, the store is
   * shedding load, so those sleeps must not use up the budget meant for real failures.
   */
  readonly countsAgainstBudget: boolean;
}

function kind(name: string, baseMs: number, capMs: number, jitter: JitterKind, countsAgainstBudget = true) {
  return Object.freeze({ name, baseMs, capMs, jitter, countsAgainstBudget }) satisfies BackoffKind;
}

export const BackoffKinds = Object.freeze({
  /** The request could not be sent or its stream broke. */
  tikvRPC: kind("tikvRPC", 100, 2000, "equal"),
  /** A conflicting lock whose transaction is still alive. */
  txnLock: kind("txnLock", 100, 3000, "equal"),
  /** A lock expected to be resolved soon (read path). */
  txnLockFast: kind("txnLockFast", 2, 3000, "equal"),
  /** pd unreachable or returned an error. */
  pdRPC: kind("pdRPC", 500, 3000, "equal"),
  /** Region unknown to the store or pd, or a NotLeader without a hint: usually heals in milliseconds. */
  regionMiss: kind("regionMiss", 2, 500, "none"),
  /** The store asked us to slow down; not counted against the budget. */
  serverBusy: kind("serverBusy", 2000, 10000, "equal", false),
  /** The command was superseded by a newer term: retry soon. */
  staleCmd: kind("staleCmd", 2, 1000, "none"),
  /** Every peer of a region failed to answer: give the cluster time to move leaders. */
  storeNotReachable: kind("storeNotReachable", 2, 1000, "equal"),
  /** The region is being split or merged (epoch churn): retry soon. */
  regionScheduling: kind("regionScheduling", 2, 500, "none"),
});

export type BackoffKindName = keyof typeof BackoffKinds;
