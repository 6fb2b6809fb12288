/** Test-only: RegionInfo values written compactly, for unit tests that need no whole simulated cluster. */
import { metapb } from "#proto";
import type { RegionInfo } from "../cluster/cluster-view.ts";

export interface RegionFixture {
  readonly id?: bigint;
  readonly confVer?: bigint;
  readonly version?: bigint;
  /** [peer id, store id] voters, or [peer id, store id, "learner"]. */
  readonly peers: ReadonlyArray<readonly [bigint, bigint] | readonly [bigint, bigint, "learner"]>;
  readonly leaderStoreId?: bigint;
  readonly pendingPeerIds?: readonly bigint[];
  readonly downPeerIds?: readonly bigint[];
  readonly sizeBytes?: number;
}

export function regionInfo(fixture: RegionFixture): RegionInfo {
  const peers: metapb.Peer[] = fixture.peers.map(([id, storeId, role]) => ({
    id,
    storeId,
    role: role === "learner" ? metapb.PeerRole.LEARNER : metapb.PeerRole.VOTER,
  }));
  return {
    meta: {
      id: fixture.id ?? 1n,
      startKey: new Uint8Array(),
      endKey: new Uint8Array(),
      regionEpoch: { confVer: fixture.confVer ?? 1n, version: fixture.version ?? 1n },
      peers,
    },
    leader: peers.find((peer) => peer.storeId === (fixture.leaderStoreId ?? peers[0]?.storeId)),
    downPeers: peers
      .filter((peer) => fixture.downPeerIds?.includes(peer.id))
      .map((peer) => ({ peer, downSeconds: 600n })),
    pendingPeers: peers.filter((peer) => fixture.pendingPeerIds?.includes(peer.id)),
    approximateSizeBytes: fixture.sizeBytes ?? 0,
    approximateKeys: 0,
  };
}
