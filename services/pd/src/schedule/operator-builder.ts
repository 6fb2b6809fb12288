/**
 * Building blocks shared by checkers, schedulers and manual requests: the step sequences for adding and
 * removing a peer safely, and the choice of a new leader.
 */
import type { metapb } from "#proto";
import type { ClusterView, RegionInfo } from "../cluster/cluster-view.ts";
import { Operator, type OperatorKind, type OperatorPriority } from "./operator.ts";
import {
  addLearner,
  type OperatorStep,
  promoteLearner,
  removePeer,
  transferLeader,
} from "./operator-step.ts";
import { isDownPeer, isPendingPeer, votersOf } from "./region-peers.ts";
import type { ScheduleContext } from "./schedule-context.ts";
import { acceptsLeaders, isServing } from "./store-filters.ts";

export function createOperator(
  context: Pick<ScheduleContext, "clock">,
  options: {
    readonly description: string;
    readonly kind: OperatorKind;
    readonly priority: OperatorPriority;
    readonly region: RegionInfo;
    readonly steps: readonly OperatorStep[];
  },
): Operator {
  return new Operator({ ...options, nowMs: context.clock.monotonicMs(), wallClockMs: context.clock.nowMs() });
}

/** A new voter joins as a learner first so it catches up without weakening the quorum. */
export function addPeerSteps(storeId: bigint, peerId: bigint): OperatorStep[] {
  return [addLearner(storeId, peerId), promoteLearner(storeId, peerId)];
}

/**
 * The voter best suited to take over leadership from `fromStoreId`: on a store that accepts leaders and
 * has leader capacity, caught up and not down, with the fewest leaders. Undefined when none qualifies.
 */
export function bestLeaderTarget(
  region: RegionInfo,
  context: ScheduleContext,
  fromStoreId: bigint,
  options: { readonly requireLeaderStore?: boolean } = {},
): metapb.Peer | undefined {
  const requireLeaderStore = options.requireLeaderStore ?? true;
  let best: metapb.Peer | undefined;
  for (const peer of votersOf(region)) {
    if (peer.storeId === fromStoreId || isPendingPeer(region, peer.id) || isDownPeer(region, peer.id))
      continue;
    const store = context.cluster.store(peer.storeId);
    const eligible = requireLeaderStore
      ? acceptsLeaders(store, context.evictingStoreIds)
      : store?.health === "up";
    if (!eligible || !context.controller.hasLeaderCapacity(peer.storeId)) continue;
    if (best === undefined || fewerLeaders(context, peer.storeId, best.storeId)) best = peer;
  }
  return best;
}

function fewerLeaders(context: ScheduleContext, storeId: bigint, thanStoreId: bigint): boolean {
  const count = context.loads.get(storeId).leaderCount;
  const thanCount = context.loads.get(thanStoreId).leaderCount;
  return count < thanCount || (count === thanCount && storeId < thanStoreId);
}

/**
 * Steps removing `peer`; when it is the leader, leadership moves first (to a store that accepts leaders,
 * or failing that any up voter, e.g. a stopping one: removing a peer matters more than where leadership
 * rests for a moment). Undefined when the leader has nowhere to go or the removal would cost the region
 * its quorum. `addedVoters` counts voters the same operator adds (on serving stores) before removing.
 */
export function removePeerSteps(
  region: RegionInfo,
  peer: metapb.Peer,
  context: ScheduleContext,
  options: { readonly addedVoters?: number } = {},
): OperatorStep[] | undefined {
  if (!removalKeepsQuorum(region, peer, context.cluster, options.addedVoters ?? 0)) return undefined;
  if (region.leader?.storeId !== peer.storeId) return [removePeer(peer.storeId, peer.id)];
  const target =
    bestLeaderTarget(region, context, peer.storeId) ??
    bestLeaderTarget(region, context, peer.storeId, { requireLeaderStore: false });
  if (target === undefined) return undefined;
  return [transferLeader(peer.storeId, target.storeId), removePeer(peer.storeId, peer.id)];
}

/** Whether the voters left after removing `peer` (plus `addedVoters`) still have a serving majority. */
export function removalKeepsQuorum(
  region: RegionInfo,
  peer: metapb.Peer,
  cluster: ClusterView,
  addedVoters = 0,
): boolean {
  const remaining = votersOf(region).filter((voter) => voter.id !== peer.id);
  const total = remaining.length + addedVoters;
  const serving = remaining.filter((voter) => isServing(cluster.store(voter.storeId))).length + addedVoters;
  return total > 0 && serving > total / 2;
}
