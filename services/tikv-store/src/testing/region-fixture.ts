import { metapb } from "#proto";
import { bytes } from "./bytes.ts";

/** Region `id` over [startKey, endKey) at epoch 1/1, its peers on stores 1, 2, … in order. */
export function testRegion(
  id: bigint,
  startKey: string,
  endKey: string,
  peerIds: readonly bigint[] = [id * 10n],
): metapb.Region {
  return metapb.Region.fromPartial({
    id,
    startKey: bytes(startKey),
    endKey: bytes(endKey),
    regionEpoch: { confVer: 1n, version: 1n },
    peers: peerIds.map((peerId, index) => ({ id: peerId, storeId: BigInt(index + 1) })),
  });
}
