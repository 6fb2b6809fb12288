/**
 * Connects the Snapshot stream to the raftstore, which takes a received snapshot as an AsyncIterable of
 * chunks and stages it on disk as it reads them: each chunk from the network is handed over through a
 * ChunkChannel, and a broken stream makes the raftstore's read loop throw, so it stages nothing.
 *
 * The stream is answered only once the raftstore settled: `finish` waits until the snapshot is staged and
 * verified, and fails when the store refused it or found it corrupt, so the sender reports the send to
 * raft truthfully.
 */
import type { raft_serverpb } from "#proto";
import type { SnapshotData } from "../raftstore/store.ts";
import { ChunkChannel } from "./chunk-channel.ts";
import type { SnapshotSink } from "./snapshot-stream.ts";

export interface SnapshotTaker {
  /**
   * Resolves once the snapshot is staged and verified; rejects when the store refuses it (unknown region,
   * stale, overlapping, closing) or the stream is broken or corrupt.
   */
  onSnapshotReceived(message: raft_serverpb.RaftMessage, data: SnapshotData): Promise<void>;
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
      const staged = store.onSnapshotReceived(message, channel);
      let refusal: unknown;
      // A refusal or a corrupt chunk ends the staging: chunks still arriving are refused with its reason.
      staged.catch((error: unknown) => {
        refusal = error;
        channel.fail(error);
      });
      return {
        write: (chunk) => channel.push(chunk),
        finish: async () => {
          channel.end();
          await staged;
        },
        abort: async () => {
          const broken = new SnapshotStreamBrokenError(message.regionId);
          channel.fail(broken);
          try {
            await staged;
          } catch (error) {
            // The break itself, or the refusal the sender already got: anything else went wrong discarding.
            if (error !== broken && error !== refusal) throw error;
          }
        },
      };
    },
  };
}
