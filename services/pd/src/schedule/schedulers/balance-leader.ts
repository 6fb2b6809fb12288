/**
 * Moves leaders from the store with the most to a store with fewer, one transfer per operator, while the
 * difference exceeds `leaderBalanceTolerance`. Because the tolerance is at least 1, a transfer happens
 * only when the counts differ by 2 or more, so afterwards the source still has at least as many leaders as
 * the target and no later transfer can go back: the process converges instead of bouncing.
 * Stores being evicted take part neither as source nor target (the evict-leader scheduler owns them).
 */
import type { metapb } from "#proto";
import type { RegionInfo, StoreInfo } from "../../cluster/cluster-view.ts";
import type { Operator } from "../operator.ts";
import { bestLeaderTarget, createOperator } from "../operator-builder.ts";
import { transferLeader } from "../operator-step.ts";
import type { ScheduleContext } from "../schedule-context.ts";
import type { Scheduler } from "./scheduler.ts";

export const BALANCE_LEADER_SCHEDULER = "balance-leader-scheduler";

export class BalanceLeaderScheduler implements Scheduler {
  readonly name = BALANCE_LEADER_SCHEDULER;

  isAllowed(context: ScheduleContext): boolean {
    return context.controller.countByKind("leader") < context.config.leaderScheduleLimit;
  }

  async schedule(context: ScheduleContext): Promise<Operator | undefined> {
    const sources = context.cluster
      .stores()
      .filter((store) => isBalanceSource(store, context))
      .sort((a, b) => leaderCount(context, b) - leaderCount(context, a));
    for (const source of sources) {
      const move = this.bestMoveFrom(source, context);
      if (move === undefined) continue;
      return createOperator(context, {
        description: "balance-leader",
        kind: "leader",
        priority: "normal",
        region: move.region,
        steps: [transferLeader(source.meta.id, move.target.storeId)],
      });
    }
    return undefined;
  }

  /** Among the source's leader regions, the transfer onto the store with the fewest leaders. */
  private bestMoveFrom(
    source: StoreInfo,
    context: ScheduleContext,
  ): { readonly region: RegionInfo; readonly target: metapb.Peer } | undefined {
    const sourceStoreId = source.meta.id;
    const sourceCount = leaderCount(context, source);
    let best: { readonly region: RegionInfo; readonly target: metapb.Peer } | undefined;
    let bestTargetCount = Number.POSITIVE_INFINITY;
    for (const region of context.cluster.leaderRegionsOnStore(sourceStoreId)) {
      if (context.controller.operator(region.meta.id) !== undefined) continue;
      const target = bestLeaderTarget(region, context, sourceStoreId);
      if (target === undefined) continue;
      const targetCount = context.loads.get(target.storeId).leaderCount;
      if (sourceCount - targetCount <= context.config.leaderBalanceTolerance) continue;
      if (targetCount < bestTargetCount) {
        best = { region, target };
        bestTargetCount = targetCount;
      }
    }
    return best;
  }
}

function isBalanceSource(store: StoreInfo, context: ScheduleContext): boolean {
  return (
    store.health === "up" &&
    !context.evictingStoreIds.has(store.meta.id) &&
    context.controller.hasLeaderCapacity(store.meta.id) &&
    leaderCount(context, store) > 0
  );
}

function leaderCount(context: ScheduleContext, store: StoreInfo): number {
  return context.loads.get(store.meta.id).leaderCount;
}
