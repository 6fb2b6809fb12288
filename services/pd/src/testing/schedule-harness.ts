/**
 * Test-only: a simulated cluster with a clock and config, plus the pieces checkers and schedulers need
 * (controller, a fresh ScheduleContext) and a coordinator over the same cluster.
 */
import { Coordinator } from "../schedule/coordinator.ts";
import { OperatorController } from "../schedule/operator-controller.ts";
import { resolveScheduleConfig, type ScheduleConfig } from "../schedule/schedule-config.ts";
import type { ScheduleContext } from "../schedule/schedule-context.ts";
import { StoreLoads } from "../schedule/store-loads.ts";
import { ManualClock } from "./manual-clock.ts";
import { SimulatedCluster } from "./simulated-cluster.ts";

export interface ScheduleHarness {
  readonly clock: ManualClock;
  readonly cluster: SimulatedCluster;
  readonly config: ScheduleConfig;
  readonly controller: OperatorController;
  /** A context measured now, as the coordinator builds one per scheduling pass. */
  context(evictingStoreIds?: ReadonlySet<bigint>): ScheduleContext;
  /** A coordinator over the same cluster, clock and config (with its own operator controller). */
  coordinator(): Coordinator;
}

export function createScheduleHarness(overrides: Partial<ScheduleConfig> = {}): ScheduleHarness {
  const clock = new ManualClock();
  const cluster = new SimulatedCluster();
  const config = resolveScheduleConfig(overrides);
  const controller = new OperatorController({ cluster, clock, config });
  return {
    clock,
    cluster,
    config,
    controller,
    context: (evictingStoreIds = new Set()) => ({
      cluster,
      config,
      controller,
      loads: StoreLoads.measure({ cluster, controller, regionWeightMinBytes: config.regionWeightMinBytes }),
      evictingStoreIds,
      clock,
      allocPeerId: cluster.allocId,
    }),
    coordinator: () => new Coordinator({ cluster, allocId: cluster.allocId, clock, config }),
  };
}

/** `count` store ids added to the cluster. */
export function addStores(cluster: SimulatedCluster, count: number): bigint[] {
  return Array.from({ length: count }, () => cluster.addStore());
}
