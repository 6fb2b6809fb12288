/**
 * Keeps every region at `maxReplicas` healthy voters. In order of urgency it:
 * 1. removes learners on unhealthy stores, and resolves learners left behind by interrupted operators
 *    (promoted when the region lacks voters, removed otherwise);
 * 2. adds a voter (learner first, then promote) on the best other store when healthy voters are missing,
 *    removing one peer on an unhealthy store in the same operator — replacement before removal, so the
 *    region is never weaker than it was;
 * 3. removes peers on unhealthy stores outright once enough healthy voters exist;
 * 4. removes voters beyond `maxReplicas`, from unreachable stores first, then the most loaded one.
 * A leader's peer is only ever removed after leadership has moved, and no removal leaves the region
 * without a serving majority (see removePeerSteps).
 */
import type { metapb } from "#proto";
import type { RegionInfo } from "../../cluster/cluster-view.ts";
import { type Operator, outranks } from "../operator.ts";
import { addPeerSteps, createOperator, removePeerSteps } from "../operator-builder.ts";
import { type OperatorStep, promoteLearner, removePeer } from "../operator-step.ts";
import { isPendingPeer, learnersOf, peerOnStore, votersOf } from "../region-peers.ts";
import type { ScheduleContext } from "../schedule-context.ts";
import { acceptsReplicas, availableBytes, isServing, keepsReplicas } from "../store-filters.ts";

/** What to do to a region; `addOnStoreId` asks for a new peer (needing a fresh id) before `steps`. */
interface Repair {
  readonly description: string;
  readonly addOnStoreId?: bigint;
  readonly steps: readonly OperatorStep[];
}

export class ReplicaChecker {
  /** An operator repairing the region's replicas, or undefined when it needs none or none is possible now. */
  async check(region: RegionInfo, context: ScheduleContext): Promise<Operator | undefined> {
    // Operators are delivered to the leader; without one nothing can be done.
    if (region.leader === undefined) return undefined;
    const incumbent = context.controller.operator(region.meta.id);
    // A running operator is left alone unless it is a low-priority one on a region that lost a replica.
    if (
      incumbent !== undefined &&
      !(outranks("high", incumbent.priority) && hasUnhealthyPeer(region, context))
    ) {
      return undefined;
    }
    const repair = planRepair(region, context);
    if (repair === undefined || !fitsStoreLimits(repair, region, context)) return undefined;
    const steps =
      repair.addOnStoreId === undefined
        ? repair.steps
        : [...addPeerSteps(repair.addOnStoreId, await context.allocPeerId()), ...repair.steps];
    return createOperator(context, {
      description: repair.description,
      kind: "replica",
      priority: "high",
      region,
      steps,
    });
  }
}

function planRepair(region: RegionInfo, context: ScheduleContext): Repair | undefined {
  const healthy = (peer: metapb.Peer): boolean => keepsReplicas(context.cluster.store(peer.storeId));
  const learners = learnersOf(region);
  const unhealthyLearner = learners.find((peer) => !healthy(peer));
  if (unhealthyLearner !== undefined) {
    return {
      description: "remove-unhealthy-learner",
      steps: [removePeer(unhealthyLearner.storeId, unhealthyLearner.id)],
    };
  }
  const voters = votersOf(region);
  const healthyVoters = voters.filter(healthy);
  const unhealthyVoters = voters.filter((peer) => !healthy(peer)).sort(servingLast(context));
  const { maxReplicas } = context.config;
  if (learners.length > 0) return resolveLearner(region, learners[0]!, healthyVoters.length, context);
  if (healthyVoters.length < maxReplicas) return planAddition(region, unhealthyVoters[0], context);
  // When no unhealthy peer can go without costing the quorum, dropping an extra (unreachable) healthy
  // one first may make room for it.
  const removal = planRemovalOfUnhealthy(region, unhealthyVoters, context);
  if (removal !== undefined || healthyVoters.length <= maxReplicas) return removal;
  return planRemovalOfExtra(region, healthyVoters, context);
}

/** Orders peers on stores that no longer run first: removing those never weakens the quorum. */
function servingLast(context: ScheduleContext): (a: metapb.Peer, b: metapb.Peer) => number {
  const serving = (peer: metapb.Peer): number => Number(isServing(context.cluster.store(peer.storeId)));
  return (a, b) => serving(a) - serving(b);
}

function planRemovalOfUnhealthy(
  region: RegionInfo,
  unhealthyVoters: readonly metapb.Peer[],
  context: ScheduleContext,
): Repair | undefined {
  for (const peer of unhealthyVoters) {
    const steps = removePeerSteps(region, peer, context);
    if (steps !== undefined) return { description: "remove-unhealthy-peer", steps };
  }
  return undefined;
}

/** A learner no operator owns: promote it if voters are missing (once caught up), else remove it. */
function resolveLearner(
  region: RegionInfo,
  learner: metapb.Peer,
  healthyVoterCount: number,
  context: ScheduleContext,
): Repair | undefined {
  if (healthyVoterCount >= context.config.maxReplicas) {
    return { description: "remove-extra-learner", steps: [removePeer(learner.storeId, learner.id)] };
  }
  if (isPendingPeer(region, learner.id)) return undefined;
  return { description: "promote-orphan-learner", steps: [promoteLearner(learner.storeId, learner.id)] };
}

function planAddition(
  region: RegionInfo,
  replaced: metapb.Peer | undefined,
  context: ScheduleContext,
): Repair | undefined {
  const targetStoreId = pickReplicaTarget(region, context);
  // With no store to add to, an unhealthy voter stays: removing it would not make the region safer, and
  // it is back in the quorum if its store returns.
  if (targetStoreId === undefined) return undefined;
  if (replaced === undefined)
    return { description: "add-missing-peer", addOnStoreId: targetStoreId, steps: [] };
  const removal = removePeerSteps(region, replaced, context, { addedVoters: 1 });
  // The unhealthy peer cannot go yet (it leads and no other voter can take over): add first, remove later.
  if (removal === undefined)
    return { description: "add-missing-peer", addOnStoreId: targetStoreId, steps: [] };
  const health = context.cluster.store(replaced.storeId)?.health ?? "unknown";
  return { description: `replace-${health}-peer`, addOnStoreId: targetStoreId, steps: removal };
}

function planRemovalOfExtra(
  region: RegionInfo,
  healthyVoters: readonly metapb.Peer[],
  context: ScheduleContext,
): Repair | undefined {
  // Peers on stores pd cannot currently hear from go first; among the rest, the most loaded store.
  const reachable = (peer: metapb.Peer): number =>
    context.cluster.store(peer.storeId)?.health === "up" ? 1 : 0;
  const worstFirst = [...healthyVoters].sort(
    (a, b) => reachable(a) - reachable(b) || compareStores(context, b.storeId, a.storeId),
  );
  for (const peer of worstFirst) {
    const steps = removePeerSteps(region, peer, context);
    if (steps !== undefined) return { description: "remove-extra-peer", steps };
  }
  return undefined;
}

/** The store best placed to take a new replica: fewest regions, then most free space. */
function pickReplicaTarget(region: RegionInfo, context: ScheduleContext): bigint | undefined {
  const candidates = context.cluster
    .stores()
    .filter(
      (store) =>
        acceptsReplicas(store) &&
        peerOnStore(region, store.meta.id) === undefined &&
        context.controller.hasPeerCapacity(store.meta.id),
    )
    .map((store) => store.meta.id);
  candidates.sort((a, b) => compareStores(context, a, b));
  return candidates[0];
}

/** Negative when store `a` is less loaded than `b` (fewer regions, then more space, then lower id). */
function compareStores(context: ScheduleContext, a: bigint, b: bigint): number {
  const byRegions = context.loads.get(a).regionCount - context.loads.get(b).regionCount;
  if (byRegions !== 0) return byRegions;
  const storeA = context.cluster.store(a);
  const storeB = context.cluster.store(b);
  const bySpace = (storeB ? availableBytes(storeB) : 0) - (storeA ? availableBytes(storeA) : 0);
  if (bySpace !== 0) return bySpace;
  return a < b ? -1 : a > b ? 1 : 0;
}

function hasUnhealthyPeer(region: RegionInfo, context: ScheduleContext): boolean {
  return region.meta.peers.some((peer) => !keepsReplicas(context.cluster.store(peer.storeId)));
}

/** Checked before allocating a peer id, so a store at its limit does not burn ids every run. */
function fitsStoreLimits(repair: Repair, region: RegionInfo, context: ScheduleContext): boolean {
  const { controller } = context;
  if (repair.addOnStoreId !== undefined && !controller.hasPeerCapacity(repair.addOnStoreId)) return false;
  return controller.storeLimitProblem(repair.steps, region.meta.id) === undefined;
}
