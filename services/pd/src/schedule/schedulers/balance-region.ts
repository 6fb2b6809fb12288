/**
 * Moves replicas from the store with the highest region weight to lighter ones: add a peer on the target
 * (learner, then promote), move leadership along if the source led the region, then remove the source's
 * peer. Weight is region size with a floor (`regionWeightMinBytes`), so small or empty regions balance by
 * count and large ones by size. A region of weight w moves only when the two stores differ by more than
 * the tolerance and by at least 2w, so the target never ends up heavier than the source was and the
 * region has no reason to come back.
 * Only fully healthy regions move; damaged ones are the replica checker's job.
 */
import type { RegionInfo, StoreInfo } from "../../cluster/cluster-view.ts";
import type { Operator } from "../operator.ts";
import { addPeerSteps, createOperator } from "../operator-builder.ts";
import { type OperatorStep, removePeer, transferLeader } from "../operator-step.ts";
import { learnersOf, peerOnStore, votersOf } from "../region-peers.ts";
import type { ScheduleContext } from "../schedule-context.ts";
import { acceptsReplicas } from "../store-filters.ts";
import type { Scheduler } from "./scheduler.ts";

export const BALANCE_REGION_SCHEDULER = "balance-region-scheduler";

interface RegionMove {
  readonly region: RegionInfo;
  readonly sourceStoreId: bigint;
  readonly targetStoreId: bigint;
}

export class BalanceRegionScheduler implements Scheduler {
  readonly name = BALANCE_REGION_SCHEDULER;

  isAllowed(context: ScheduleContext): boolean {
    return context.controller.countByKind("region") < context.config.regionScheduleLimit;
  }

  async schedule(context: ScheduleContext): Promise<Operator | undefined> {
    const move = findMove(context);
    if (move === undefined) return undefined;
    const { region, sourceStoreId, targetStoreId } = move;
    const sourcePeer = peerOnStore(region, sourceStoreId)!;
    const steps: OperatorStep[] = addPeerSteps(targetStoreId, await context.allocPeerId());
    if (region.leader?.storeId === sourceStoreId) steps.push(transferLeader(sourceStoreId, targetStoreId));
    steps.push(removePeer(sourceStoreId, sourcePeer.id));
    return createOperator(context, {
      description: "balance-region",
      kind: "region",
      priority: "normal",
      region,
      steps,
    });
  }
}

function findMove(context: ScheduleContext): RegionMove | undefined {
  const weight = (store: StoreInfo): number => context.loads.get(store.meta.id).regionWeight;
  const stores = context.cluster.stores();
  const targets = stores
    .filter((store) => acceptsReplicas(store) && context.controller.hasPeerCapacity(store.meta.id))
    .sort((a, b) => weight(a) - weight(b));
  const sources = stores
    .filter((store) => store.health === "up" && context.controller.hasPeerCapacity(store.meta.id))
    .sort((a, b) => weight(b) - weight(a));
  const lightest = targets[0];
  if (lightest === undefined) return undefined;
  const toleranceWeight = context.config.regionBalanceTolerance * context.loads.averageRegionWeight();
  for (const source of sources) {
    // Sources are heaviest first: once one is within tolerance of the lightest target, all later ones are.
    if (weight(source) - weight(lightest) <= toleranceWeight) return undefined;
    const move = findMoveFrom(source, targets, toleranceWeight, context);
    if (move !== undefined) return move;
  }
  return undefined;
}

/** A region on the source that fits a target; regions the source does not lead are preferred (no leader transfer). */
function findMoveFrom(
  source: StoreInfo,
  targets: readonly StoreInfo[],
  toleranceWeight: number,
  context: ScheduleContext,
): RegionMove | undefined {
  const sourceStoreId = source.meta.id;
  const sourceWeight = context.loads.get(sourceStoreId).regionWeight;
  let leaderMove: RegionMove | undefined;
  for (const region of context.cluster.regionsOnStore(sourceStoreId)) {
    if (!isMovable(region, context)) continue;
    const regionWeight = context.loads.regionWeight(region);
    const target = targets.find((store) => {
      const difference = sourceWeight - context.loads.get(store.meta.id).regionWeight;
      return (
        store.meta.id !== sourceStoreId &&
        peerOnStore(region, store.meta.id) === undefined &&
        difference > toleranceWeight &&
        difference >= 2 * regionWeight
      );
    });
    if (target === undefined) continue;
    const move = { region, sourceStoreId, targetStoreId: target.meta.id };
    if (region.leader?.storeId !== sourceStoreId) return move;
    const leaderCanMove =
      context.controller.hasLeaderCapacity(sourceStoreId) &&
      context.controller.hasLeaderCapacity(target.meta.id);
    if (leaderMove === undefined && leaderCanMove) leaderMove = move;
  }
  return leaderMove;
}

function isMovable(region: RegionInfo, context: ScheduleContext): boolean {
  const voters = votersOf(region);
  return (
    region.leader !== undefined &&
    context.controller.operator(region.meta.id) === undefined &&
    region.pendingPeers.length === 0 &&
    region.downPeers.length === 0 &&
    learnersOf(region).length === 0 &&
    voters.length === context.config.maxReplicas &&
    voters.every((peer) => context.cluster.store(peer.storeId)?.health === "up")
  );
}
