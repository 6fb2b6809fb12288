/**
 * Moves every leader off the stores being evicted: stores that report `stopping` (graceful shutdown)
 * automatically, and stores named in a request (`evict`) until the request is withdrawn. Each transfer
 * goes to another caught-up voter on a store that accepts leaders, the one with the fewest leaders.
 * Eviction outranks balancing, so its operators replace running balance operators on the same region.
 */
import type { ClusterView } from "../../cluster/cluster-view.ts";
import type { Operator } from "../operator.ts";
import { bestLeaderTarget, createOperator } from "../operator-builder.ts";
import { transferLeader } from "../operator-step.ts";
import type { ScheduleContext } from "../schedule-context.ts";
import type { Scheduler } from "./scheduler.ts";

export const EVICT_LEADER_SCHEDULER = "evict-leader-scheduler";

export class EvictLeaderScheduler implements Scheduler {
  readonly name = EVICT_LEADER_SCHEDULER;
  private readonly requested = new Set<bigint>();

  evict(storeId: bigint): void {
    this.requested.add(storeId);
  }

  /** False when the store was not under an evict request. */
  stopEvicting(storeId: bigint): boolean {
    return this.requested.delete(storeId);
  }

  /** Stores under an explicit evict request, in id order. */
  requestedStoreIds(): readonly bigint[] {
    return [...this.requested].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  }

  /** Requested stores plus every store that reports stopping. */
  evictingStoreIds(cluster: ClusterView): ReadonlySet<bigint> {
    const evicting = new Set(this.requested);
    for (const store of cluster.stores()) if (store.stopping) evicting.add(store.meta.id);
    return evicting;
  }

  /** Bounded by the per-store leader limits and the per-run batch rather than leaderScheduleLimit, so a stopping store drains quickly. */
  isAllowed(_context: ScheduleContext): boolean {
    return true;
  }

  async schedule(context: ScheduleContext): Promise<Operator | undefined> {
    for (const storeId of context.evictingStoreIds) {
      if (!context.controller.hasLeaderCapacity(storeId)) continue;
      for (const region of context.cluster.leaderRegionsOnStore(storeId)) {
        if (!context.controller.canTake(region.meta.id, "high")) continue;
        const target = bestLeaderTarget(region, context, storeId);
        if (target === undefined) continue;
        return createOperator(context, {
          description: "evict-leader",
          kind: "leader",
          priority: "high",
          region,
          steps: [transferLeader(storeId, target.storeId)],
        });
      }
    }
    return undefined;
  }
}
