import type { kvrpcpb, metapb } from "#proto";
import type { RegionVerId } from "./region-ver-id.ts";

/**
 * leader: every request goes to the leader. follower: reads go to a follower (never the leader while a
 * follower exists), the store serves them after a ReadIndex. mixed: any peer, leader included.
 */
export type ReplicaReadMode = "leader" | "follower" | "mixed";

/** Everything needed to send one request to one peer of a region, as the cache saw it at that moment. */
export interface RpcContext {
  readonly region: RegionVerId;
  readonly meta: metapb.Region;
  readonly peer: metapb.Peer;
  readonly storeId: bigint;
  /** The store's address for the Tikv service (host:port). */
  readonly address: string;
  /** The store's failure epoch when this context was made; a later failure report with it is stale. */
  readonly storeEpoch: number;
  readonly replicaRead: ReplicaReadMode;
  /** Ready to put in the request: region id, epoch, peer and the replica-read flag. */
  readonly kvContext: kvrpcpb.Context;
}
