/** Test-only: the convergence property every balance scheduler must have, checked on a harness's cluster. */
import assert from "node:assert/strict";
import type { StoreInfo } from "../cluster/cluster-view.ts";
import type { ScheduleHarness } from "./schedule-harness.ts";
import { runSchedulingLoop } from "./schedule-loop.ts";

export interface BalanceConvergenceOptions {
  /** The per-store count the scheduler evens out. */
  readonly balancedCount: (store: StoreInfo) => number;
  readonly tolerance: number;
  readonly maxRounds: number;
}

/** Schedules until nothing is left to do, which must leave the counts within the tolerance. */
export async function assertConvergesWithoutMovingBack(
  harness: ScheduleHarness,
  options: BalanceConvergenceOptions,
): Promise<void> {
  const squares = () =>
    harness.cluster.stores().reduce((sum, store) => sum + options.balancedCount(store) ** 2, 0);
  const initialSquares = squares();
  const coordinator = harness.coordinator();

  const result = await runSchedulingLoop({
    coordinator,
    cluster: harness.cluster,
    clock: harness.clock,
    maxRounds: options.maxRounds,
  });

  assert.equal(result.stable, true);
  const counts = harness.cluster.stores().map(options.balancedCount);
  assert.ok(Math.max(...counts) - Math.min(...counts) <= options.tolerance, `${counts}`);
  // Each operator moves one unit from a store at least 2 above its target, lowering the sum of squared
  // counts by at least 2; an operator undone later would need the sum to rise again.
  const operators = coordinator.operatorHistory().length;
  assert.ok(operators <= (initialSquares - squares()) / 2, `${operators} operators`);
}
