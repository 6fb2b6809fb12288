/**
 * What every part of the transaction client runs on: the region cache and sender, pd's TSO, the
 * settings, the owner of background work, and how to make a backoffer for one operation.
 */
import type { Failpoints, TaskScope } from "#runtime";
import type { Backoffer } from "../backoff/backoffer.ts";
import type { RegionCache } from "../region-cache/region-cache.ts";
import type { RegionRequestSender } from "../rpc/region-request-sender.ts";
import type { ResolvedTxnSettings } from "./txn-settings.ts";

export interface TxnParts {
  readonly cache: RegionCache;
  readonly sender: RegionRequestSender;
  readonly settings: ResolvedTxnSettings;
  /** A fresh timestamp from pd's TSO. */
  readonly tso: () => Promise<bigint>;
  /** Owns secondary commits and rollbacks that outlive the call that started them. */
  readonly background: TaskScope;
  newBackoffer(budgetMs: number): Backoffer;
  /** Named failpoints in the commit path (txn.before-prewrite, txn.after-prewrite, txn.after-commit-primary). */
  readonly failpoints: Failpoints;
  /** Aborted when the client closes: ends waits that would otherwise outlive it. */
  readonly closed: AbortSignal;
}
