/**
 * Everything a checker or scheduler may consult during one scheduling run. Built once per run by the
 * coordinator; `loads` is updated as operators start, so later decisions in the same run see earlier ones.
 */
import type { Clock } from "#runtime";
import type { ClusterView } from "../cluster/cluster-view.ts";
import type { OperatorController } from "./operator-controller.ts";
import type { ScheduleConfig } from "./schedule-config.ts";
import type { StoreLoads } from "./store-loads.ts";

export interface ScheduleContext {
  readonly cluster: ClusterView;
  readonly config: ScheduleConfig;
  readonly controller: OperatorController;
  readonly loads: StoreLoads;
  /** Stores that must not lead regions: stopping ones and those under an evict-leader request. */
  readonly evictingStoreIds: ReadonlySet<bigint>;
  readonly clock: Clock;
  /** A fresh cluster-unique id for a new peer. */
  allocPeerId(): Promise<bigint>;
}
