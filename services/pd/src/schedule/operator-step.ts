/**
 * One step of an operator: a single change pd asks a region's leader to make. Each step knows the
 * heartbeat reply that requests it, how to recognise from a reported region that it has happened, and
 * which epoch change it causes, so the operator can tell its own epoch changes from someone else's.
 */
import { eraftpb, metapb, pdpb } from "#proto";
import { InvariantError } from "#runtime";
import type { ClusterView, RegionInfo } from "../cluster/cluster-view.ts";
import { epochOf, isPendingPeer, isVoter, peerOnStore } from "./region-peers.ts";

/** Adds a non-voting peer that catches up (snapshot + log) without affecting the quorum. */
export interface AddLearnerStep {
  readonly kind: "add-learner";
  readonly storeId: bigint;
  readonly peerId: bigint;
}

/** Turns a caught-up learner into a voter. */
export interface PromoteLearnerStep {
  readonly kind: "promote-learner";
  readonly storeId: bigint;
  readonly peerId: bigint;
}

export interface RemovePeerStep {
  readonly kind: "remove-peer";
  readonly storeId: bigint;
  readonly peerId: bigint;
}

export interface TransferLeaderStep {
  readonly kind: "transfer-leader";
  readonly fromStoreId: bigint;
  readonly toStoreId: bigint;
}

export interface SplitRegionStep {
  readonly kind: "split";
  readonly policy: pdpb.CheckPolicy;
  /** Split keys for CHECK_POLICY_USE_KEY; empty otherwise. */
  readonly keys: readonly Uint8Array[];
  /** The region's epoch version before the split; any later version means the split happened. */
  readonly versionBefore: bigint;
}

export type OperatorStep =
  | AddLearnerStep
  | PromoteLearnerStep
  | RemovePeerStep
  | TransferLeaderStep
  | SplitRegionStep;

export function addLearner(storeId: bigint, peerId: bigint): AddLearnerStep {
  return { kind: "add-learner", storeId, peerId };
}

export function promoteLearner(storeId: bigint, peerId: bigint): PromoteLearnerStep {
  return { kind: "promote-learner", storeId, peerId };
}

export function removePeer(storeId: bigint, peerId: bigint): RemovePeerStep {
  return { kind: "remove-peer", storeId, peerId };
}

export function transferLeader(fromStoreId: bigint, toStoreId: bigint): TransferLeaderStep {
  return { kind: "transfer-leader", fromStoreId, toStoreId };
}

export function splitRegion(options: {
  readonly policy: pdpb.CheckPolicy;
  readonly keys?: readonly Uint8Array[];
  readonly versionBefore: bigint;
}): SplitRegionStep {
  return {
    kind: "split",
    policy: options.policy,
    keys: options.keys ?? [],
    versionBefore: options.versionBefore,
  };
}

/** Whether the reported region shows the step's goal reached. */
export function isStepFinished(step: OperatorStep, region: RegionInfo): boolean {
  switch (step.kind) {
    case "add-learner": {
      // A learner still catching up is not worth promoting: as a voter it would count towards the quorum
      // while unable to acknowledge new entries.
      const peer = peerOnStore(region, step.storeId);
      return peer?.id === step.peerId && !isPendingPeer(region, peer.id);
    }
    case "promote-learner": {
      const peer = peerOnStore(region, step.storeId);
      return peer?.id === step.peerId && isVoter(peer);
    }
    case "remove-peer":
      return peerOnStore(region, step.storeId) === undefined;
    case "transfer-leader":
      return region.leader?.storeId === step.toStoreId;
    case "split":
      return epochOf(region).version > step.versionBefore;
    default:
      return assertNever(step);
  }
}

/**
 * How many conf_ver increments of the reported region this step accounts for (0 or 1). This differs from
 * "finished": an added learner bumps conf_ver as soon as it exists, long before it has caught up.
 */
export function confChangesApplied(step: OperatorStep, region: RegionInfo): number {
  switch (step.kind) {
    case "add-learner":
      return peerOnStore(region, step.storeId)?.id === step.peerId ? 1 : 0;
    case "promote-learner": {
      const peer = peerOnStore(region, step.storeId);
      return peer?.id === step.peerId && isVoter(peer) ? 1 : 0;
    }
    case "remove-peer":
      return peerOnStore(region, step.storeId) === undefined ? 1 : 0;
    case "transfer-leader":
    case "split":
      return 0;
    default:
      return assertNever(step);
  }
}

/** Whether this step explains the region's epoch version having moved on. */
export function changesVersion(step: OperatorStep): boolean {
  return step.kind === "split";
}

/**
 * Why the step can no longer succeed on this region (undefined when it still can). The operator is then
 * cancelled rather than left to time out.
 */
export function stepObstacle(
  step: OperatorStep,
  region: RegionInfo,
  cluster: ClusterView,
): string | undefined {
  switch (step.kind) {
    case "add-learner": {
      const existing = peerOnStore(region, step.storeId);
      if (existing !== undefined && existing.id !== step.peerId) {
        return `store ${step.storeId} already holds peer ${existing.id} of region ${region.meta.id}`;
      }
      return unusableTarget(cluster, step.storeId);
    }
    case "promote-learner":
      if (peerOnStore(region, step.storeId)?.id !== step.peerId) {
        return `learner ${step.peerId} is no longer on store ${step.storeId}`;
      }
      return unusableTarget(cluster, step.storeId);
    case "remove-peer":
      // Raft cannot remove its own leader safely; the operator transferred leadership away first, so the
      // leader coming back here means the plan no longer holds.
      return region.leader?.storeId === step.storeId
        ? `the peer to remove on store ${step.storeId} is the leader of region ${region.meta.id}`
        : undefined;
    case "transfer-leader": {
      const target = peerOnStore(region, step.toStoreId);
      if (target === undefined || !isVoter(target)) {
        return `store ${step.toStoreId} holds no voter of region ${region.meta.id}`;
      }
      return unusableTarget(cluster, step.toStoreId);
    }
    case "split":
      return undefined;
    default:
      return assertNever(step);
  }
}

function unusableTarget(cluster: ClusterView, storeId: bigint): string | undefined {
  const store = cluster.store(storeId);
  if (store === undefined) return `target store ${storeId} is unknown`;
  if (store.health === "down" || store.health === "tombstone" || store.health === "offline") {
    return `target store ${storeId} is ${store.health}`;
  }
  return undefined;
}

/** The heartbeat reply asking the region's leader to perform the step. */
export function stepToResponse(step: OperatorStep, region: RegionInfo): pdpb.RegionHeartbeatResponse {
  const response: pdpb.RegionHeartbeatResponse = {
    header: undefined,
    changePeer: undefined,
    transferLeader: undefined,
    regionId: region.meta.id,
    // The epoch the reply was computed against is the region's current one, not the operator's original:
    // after its first conf change the original is stale and the leader would ignore the reply.
    regionEpoch: { ...epochOf(region) },
    targetPeer: region.leader,
    splitRegion: undefined,
  };
  switch (step.kind) {
    case "add-learner":
      return { ...response, changePeer: changePeer(step, metapb.PeerRole.LEARNER, "ADD_LEARNER_NODE") };
    case "promote-learner":
      return { ...response, changePeer: changePeer(step, metapb.PeerRole.VOTER, "ADD_NODE") };
    case "remove-peer": {
      const role = peerOnStore(region, step.storeId)?.role ?? metapb.PeerRole.VOTER;
      return { ...response, changePeer: changePeer(step, role, "REMOVE_NODE") };
    }
    case "transfer-leader": {
      const peer = peerOnStore(region, step.toStoreId);
      return { ...response, transferLeader: { peer } };
    }
    case "split":
      return { ...response, splitRegion: { policy: step.policy, keys: [...step.keys] } };
    default:
      return assertNever(step);
  }
}

function changePeer(
  step: AddLearnerStep | PromoteLearnerStep | RemovePeerStep,
  role: metapb.PeerRole,
  changeType: keyof typeof eraftpb.ConfChangeType,
): pdpb.ChangePeer {
  return {
    peer: { id: step.peerId, storeId: step.storeId, role },
    changeType: eraftpb.ConfChangeType[changeType],
  };
}

export function describeStep(step: OperatorStep): string {
  switch (step.kind) {
    case "add-learner":
      return `add learner peer ${step.peerId} on store ${step.storeId}`;
    case "promote-learner":
      return `promote learner peer ${step.peerId} on store ${step.storeId} to voter`;
    case "remove-peer":
      return `remove peer ${step.peerId} on store ${step.storeId}`;
    case "transfer-leader":
      return `transfer leader from store ${step.fromStoreId} to store ${step.toStoreId}`;
    case "split":
      return `split region (${pdpb.checkPolicyToJSON(step.policy)}${step.keys.length > 0 ? `, ${step.keys.length} keys` : ""})`;
    default:
      return assertNever(step);
  }
}

/** Leader transfers are quick or never; peer changes may wait for a snapshot. */
export function stepTimeoutMs(
  step: OperatorStep,
  timeouts: { readonly stepTimeoutMs: number; readonly leaderStepTimeoutMs: number },
): number {
  return step.kind === "transfer-leader" ? timeouts.leaderStepTimeoutMs : timeouts.stepTimeoutMs;
}

/** The store whose peer count the step changes, if any (+1 add, -1 remove). */
export function peerCountChange(
  step: OperatorStep,
): { readonly storeId: bigint; readonly delta: 1 | -1 } | undefined {
  if (step.kind === "add-learner") return { storeId: step.storeId, delta: 1 };
  if (step.kind === "remove-peer") return { storeId: step.storeId, delta: -1 };
  return undefined;
}

function assertNever(step: never): never {
  throw new InvariantError(
    `unknown operator step kind ${String((step as { readonly kind?: unknown }).kind)}`,
  );
}
