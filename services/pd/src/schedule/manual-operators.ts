/**
 * Operators requested by a person through the HTTP API or ctl. Each request is checked against the
 * current region and stores and refused with a ScheduleRequestError saying exactly what is wrong, rather
 * than started and left to fail: an unknown region or store, a peer that is already there (or not), a
 * removal that would leave the region without a healthy quorum. Manual operators run at the highest
 * priority, replacing whatever a checker or scheduler was doing on the region.
 */
import { metapb, pdpb } from "#proto";
import type { RegionInfo, StoreInfo } from "../cluster/cluster-view.ts";
import type { Operator } from "./operator.ts";
import { addPeerSteps, createOperator, removalKeepsQuorum, removePeerSteps } from "./operator-builder.ts";
import { type OperatorStep, splitRegion, transferLeader } from "./operator-step.ts";
import { epochOf, isDownPeer, isPendingPeer, isVoter, peerOnStore, votersOf } from "./region-peers.ts";
import type { ScheduleContext } from "./schedule-context.ts";
import { ScheduleRequestError } from "./schedule-request-error.ts";
import { acceptsReplicas } from "./store-filters.ts";

export type SplitPolicyName = "scan" | "approximate" | "use-key";

export type ManualOperatorRequest =
  | { readonly kind: "transfer-leader"; readonly regionId: bigint; readonly toStoreId: bigint }
  | { readonly kind: "add-peer"; readonly regionId: bigint; readonly storeId: bigint }
  | { readonly kind: "remove-peer"; readonly regionId: bigint; readonly storeId: bigint }
  | {
      readonly kind: "split";
      readonly regionId: bigint;
      /** How the store picks the split key ["scan"]; "use-key" splits at `keys`. */
      readonly policy?: SplitPolicyName;
      readonly keys?: readonly Uint8Array[];
    };

const SPLIT_POLICIES: Readonly<Record<SplitPolicyName, pdpb.CheckPolicy>> = {
  scan: pdpb.CheckPolicy.SCAN,
  approximate: pdpb.CheckPolicy.APPROXIMATE,
  "use-key": pdpb.CheckPolicy.USE_KEY,
};

/** Validates the request and builds its operator; throws ScheduleRequestError when it cannot be done. */
export async function buildManualOperator(
  request: ManualOperatorRequest,
  context: ScheduleContext,
): Promise<Operator> {
  const region = requireRegion(request.regionId, context);
  const steps = await manualSteps(request, region, context);
  return createOperator(context, {
    description: `admin-${request.kind}`,
    kind: "admin",
    priority: "highest",
    region,
    steps,
  });
}

async function manualSteps(
  request: ManualOperatorRequest,
  region: RegionInfo,
  context: ScheduleContext,
): Promise<OperatorStep[]> {
  switch (request.kind) {
    case "transfer-leader":
      return transferLeaderSteps(region, request.toStoreId, context);
    case "add-peer":
      checkAddPeer(region, request.storeId, context);
      return addPeerSteps(request.storeId, await context.allocPeerId());
    case "remove-peer":
      return removePeerRequestSteps(region, request.storeId, context);
    case "split":
      return [splitStep(region, request.policy ?? "scan", request.keys ?? [])];
    default:
      throw invalid(`unknown operator kind ${String((request as { readonly kind?: unknown }).kind)}`);
  }
}

function requireRegion(regionId: bigint, context: ScheduleContext): RegionInfo {
  const region = context.cluster.region(regionId);
  if (region === undefined) {
    throw new ScheduleRequestError({
      code: "region-not-found",
      message: `region ${regionId} is unknown`,
      regionId,
    });
  }
  if (region.leader === undefined) {
    throw new ScheduleRequestError({
      code: "conflict",
      message: `region ${regionId} has no known leader to carry out an operator; retry after its next heartbeat`,
      regionId,
    });
  }
  const incumbent = context.controller.operator(regionId);
  if (incumbent !== undefined && !context.controller.canTake(regionId, "highest")) {
    throw new ScheduleRequestError({
      code: "conflict",
      message: `region ${regionId} already runs the manual operator "${incumbent.description}"`,
      regionId,
    });
  }
  return region;
}

function requireStore(region: RegionInfo, storeId: bigint, context: ScheduleContext): StoreInfo {
  const store = context.cluster.store(storeId);
  if (store === undefined) {
    throw new ScheduleRequestError({
      code: "store-not-found",
      message: `store ${storeId} is unknown`,
      regionId: region.meta.id,
      storeId,
    });
  }
  return store;
}

function transferLeaderSteps(
  region: RegionInfo,
  toStoreId: bigint,
  context: ScheduleContext,
): OperatorStep[] {
  const store = requireStore(region, toStoreId, context);
  const regionId = region.meta.id;
  const peer = peerOnStore(region, toStoreId);
  if (peer === undefined)
    throw invalid(`store ${toStoreId} holds no peer of region ${regionId}`, region, toStoreId);
  if (!isVoter(peer)) {
    throw invalid(
      `peer ${peer.id} of region ${regionId} on store ${toStoreId} is a learner and cannot lead`,
      region,
      toStoreId,
    );
  }
  if (region.leader?.storeId === toStoreId) {
    throw invalid(`store ${toStoreId} already leads region ${regionId}`, region, toStoreId);
  }
  if (store.health !== "up" || store.stopping || context.evictingStoreIds.has(toStoreId)) {
    throw invalid(
      `store ${toStoreId} cannot take leaders now (${describeStoreState(store, context)})`,
      region,
      toStoreId,
    );
  }
  if (isPendingPeer(region, peer.id) || isDownPeer(region, peer.id)) {
    throw invalid(
      `peer ${peer.id} on store ${toStoreId} lags behind the leader and cannot lead yet`,
      region,
      toStoreId,
    );
  }
  return [transferLeader(region.leader!.storeId, toStoreId)];
}

function checkAddPeer(region: RegionInfo, storeId: bigint, context: ScheduleContext): void {
  const store = requireStore(region, storeId, context);
  const existing = peerOnStore(region, storeId);
  if (existing !== undefined) {
    throw invalid(
      `store ${storeId} already holds peer ${existing.id} of region ${region.meta.id}`,
      region,
      storeId,
    );
  }
  if (!acceptsReplicas(store)) {
    throw invalid(
      `store ${storeId} cannot take new peers now (${describeStoreState(store, context)})`,
      region,
      storeId,
    );
  }
}

function removePeerRequestSteps(
  region: RegionInfo,
  storeId: bigint,
  context: ScheduleContext,
): OperatorStep[] {
  const regionId = region.meta.id;
  const peer = peerOnStore(region, storeId);
  if (peer === undefined) {
    requireStore(region, storeId, context);
    throw invalid(`store ${storeId} holds no peer of region ${regionId}`, region, storeId);
  }
  if (isVoter(peer)) {
    if (votersOf(region).length === 1) {
      throw invalid(`peer ${peer.id} is the last voter of region ${regionId}`, region, storeId);
    }
    if (!removalKeepsQuorum(region, peer, context.cluster)) {
      throw invalid(
        `removing peer ${peer.id} would leave region ${regionId} without a majority of voters on serving stores (no quorum)`,
        region,
        storeId,
      );
    }
  }
  const steps = removePeerSteps(region, peer, context);
  if (steps === undefined) {
    throw new ScheduleRequestError({
      code: "conflict",
      message: `peer ${peer.id} leads region ${regionId} and no other voter can take leadership now`,
      regionId,
      storeId,
    });
  }
  return steps;
}

function splitStep(
  region: RegionInfo,
  policyName: SplitPolicyName,
  keys: readonly Uint8Array[],
): OperatorStep {
  const policy = SPLIT_POLICIES[policyName];
  if (policy === undefined) throw invalid(`unknown split policy "${policyName}"`, region);
  if (policyName === "use-key" && keys.length === 0)
    throw invalid(`split policy use-key needs at least one key`, region);
  if (policyName !== "use-key" && keys.length > 0)
    throw invalid(`split keys are only used with policy use-key`, region);
  let previous = region.meta.startKey;
  for (const key of keys) {
    const endKey = region.meta.endKey;
    const inside =
      Buffer.compare(key, previous) > 0 && (endKey.length === 0 || Buffer.compare(key, endKey) < 0);
    if (!inside) {
      throw invalid(
        `split key ${hex(key)} is not inside region ${region.meta.id} [${hex(region.meta.startKey)}, ${hex(endKey)}) after the previous key, in increasing order`,
        region,
      );
    }
    previous = key;
  }
  return splitRegion({ policy, keys, versionBefore: epochOf(region).version });
}

function describeStoreState(store: StoreInfo, context: ScheduleContext): string {
  if (store.health !== "up") return store.health;
  if (store.stopping) return "stopping";
  if (context.evictingStoreIds.has(store.meta.id)) return "evicting leaders";
  if (store.meta.state !== metapb.StoreState.UP) return "being removed";
  return "up";
}

function invalid(message: string, region?: RegionInfo, storeId?: bigint): ScheduleRequestError {
  return new ScheduleRequestError({ code: "invalid-argument", message, regionId: region?.meta.id, storeId });
}

function hex(key: Uint8Array): string {
  return key.length === 0 ? "''" : Buffer.from(key).toString("hex");
}
