/**
 * A scheduler proposes operators that improve the cluster's shape (balance, eviction); unlike a checker it
 * looks across stores rather than at one region. The coordinator calls `schedule` repeatedly within one
 * run, starting each operator before the next call, until it returns undefined, `isAllowed` turns false
 * or the per-run batch is used up.
 */
import type { Operator } from "../operator.ts";
import type { ScheduleContext } from "../schedule-context.ts";

export interface Scheduler {
  /** Stable name used by the HTTP API and ctl, e.g. "balance-leader-scheduler". */
  readonly name: string;
  /** Whether cluster-wide limits let the scheduler start another operator now. */
  isAllowed(context: ScheduleContext): boolean;
  /** The next operator to start, or undefined when there is nothing (more) to do. */
  schedule(context: ScheduleContext): Promise<Operator | undefined>;
}
