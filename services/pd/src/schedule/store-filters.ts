/**
 * Which stores may keep, receive or lead replicas. A disconnected store (missed heartbeats for a short
 * while) still counts as holding its replicas — replacing them at once would move data on every network
 * blip — but it gets nothing new until it is back.
 */
import { metapb } from "#proto";
import type { StoreInfo } from "../cluster/cluster-view.ts";

/** Its replicas count towards the region's healthy voters. */
export function keepsReplicas(store: StoreInfo | undefined): boolean {
  return store !== undefined && (store.health === "up" || store.health === "disconnected");
}

/**
 * The store's peers are running and reachable: up, or offline (being drained, still serving). Quorum
 * checks count only these, so a removal never leaves a region relying on stores pd cannot hear from.
 */
export function isServing(store: StoreInfo | undefined): boolean {
  return store !== undefined && (store.health === "up" || store.health === "offline");
}

/** May receive a new peer. */
export function acceptsReplicas(store: StoreInfo | undefined): boolean {
  return (
    store !== undefined &&
    store.health === "up" &&
    !store.stopping &&
    store.meta.state === metapb.StoreState.UP
  );
}

/** May be handed region leadership. */
export function acceptsLeaders(store: StoreInfo | undefined, evictingStoreIds: ReadonlySet<bigint>): boolean {
  return store !== undefined && acceptsReplicas(store) && !evictingStoreIds.has(store.meta.id);
}

/** Free bytes as last reported, 0 when unknown, so stores that never reported sort last. */
export function availableBytes(store: StoreInfo): number {
  return Number(store.stats?.available ?? 0n);
}
