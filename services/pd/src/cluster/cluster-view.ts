import type { metapb, pdpb } from "#proto";

/** Store lifecycle as seen by pd; "offline" means removal was requested but regions still live there. */
export type StoreHealth = "up" | "disconnected" | "down" | "offline" | "tombstone";

export interface StoreInfo {
  readonly meta: metapb.Store;
  readonly health: StoreHealth;
  readonly stopping: boolean;
  readonly stats?: pdpb.StoreStats;
  readonly lastHeartbeatMs: number;
  readonly regionCount: number;
  readonly leaderCount: number;
  readonly regionSizeBytes: number;
}

export interface RegionInfo {
  readonly meta: metapb.Region;
  readonly leader?: metapb.Peer;
  readonly downPeers: readonly pdpb.PeerStats[];
  readonly pendingPeers: readonly metapb.Peer[];
  readonly approximateSizeBytes: number;
  readonly approximateKeys: number;
}

/** Read-only view of cluster metadata consumed by scheduling. */
export interface ClusterView {
  stores(): readonly StoreInfo[];
  store(id: bigint): StoreInfo | undefined;
  regions(): Iterable<RegionInfo>;
  region(id: bigint): RegionInfo | undefined;
  regionsOnStore(storeId: bigint): Iterable<RegionInfo>;
  leaderRegionsOnStore(storeId: bigint): Iterable<RegionInfo>;
}
