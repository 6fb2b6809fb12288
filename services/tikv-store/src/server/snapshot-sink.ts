/**
 * Connects the Snapshot stream to the raftstore, which takes a received snapshot as an AsyncIterable of
 * chunks and stages it on disk as it reads them: each chunk from the network is handed over through a
 * ChunkChannel, and a broken stream makes the raftstore's read loop throw, so it stages nothing.
 */
import type { raft_serverpb } from "#proto";
import type { SnapshotData } from "../raftstore/store.ts";
import { ChunkChannel } from "./chunk-channel.ts";
import type { SnapshotSink } from "./snapshot-stream.ts";

export interface SnapshotTaker {
  /** Throws when the store refuses the snapshot (unknown region, stale, overlapping, closing). */
  onSnapshotReceived(message: raft_serverpb.RaftMessage, data: SnapshotData): void;
}

export class SnapshotStreamBrokenError extends Error {
  override readonly name = "SnapshotStreamBrokenError";

  constructor(readonly regionId: bigint) {
    super(`the snapshot stream of region ${regionId} broke before it completed`);
  }
}

export function raftstoreSnapshotSink(store: SnapshotTaker): SnapshotSink {
  return {
    begin(message) {
      const channel = new ChunkChannel();
      store.onSnapshotReceived(message, channel);
      return {
        write: (chunk) => channel.push(chunk),
        finish: async () => channel.end(),
        abort: async () => channel.fail(new SnapshotStreamBrokenError(message.regionId)),
      };
    },
  };
}
