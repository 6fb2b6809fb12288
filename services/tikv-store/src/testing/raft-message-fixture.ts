import { eraftpb, raft_serverpb } from "#proto";

/** A raft message of `regionId` from the peer on `fromStoreId` to the peer on `toStoreId`. */
export function testRaftMessage(options: {
  readonly regionId: bigint;
  readonly fromStoreId: bigint;
  readonly toStoreId: bigint;
  readonly type?: eraftpb.MessageType;
  /** Tags the message so a test can tell messages apart. */
  readonly index?: bigint;
}): raft_serverpb.RaftMessage {
  const { regionId, fromStoreId, toStoreId } = options;
  return raft_serverpb.RaftMessage.fromPartial({
    regionId,
    fromPeer: { id: regionId * 100n + fromStoreId, storeId: fromStoreId },
    toPeer: { id: regionId * 100n + toStoreId, storeId: toStoreId },
    regionEpoch: { confVer: 1n, version: 1n },
    message: {
      msgType: options.type ?? eraftpb.MessageType.HEARTBEAT,
      from: regionId * 100n + fromStoreId,
      to: regionId * 100n + toStoreId,
      index: options.index ?? 0n,
    },
  });
}
