/**
 * A store's raft-facing gRPC endpoints (Raft, BatchRaft, Snapshot) on 127.0.0.1 with a recording sink
 * instead of a raftstore: what a transport under test sends to, and what it sees cut when the server dies.
 */
import { Server, ServerCredentials } from "@grpc/grpc-js";
import { type raft_serverpb, tikvpb } from "#proto";
import { systemTimers } from "#runtime";
import { grpcServerOptions } from "../server/grpc-options.ts";
import { RaftReceiver } from "../server/raft-receiver.ts";
import {
  createSnapshotHandler,
  type SnapshotReception,
  type SnapshotSink,
} from "../server/snapshot-stream.ts";
import { TransportFilterChain } from "../server/transport-filter.ts";
import { silentLogger, testMetrics } from "./silent-observability.ts";

export const TEST_MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

/** What a test snapshot sink saw, per stream. */
export interface RecordedSnapshot {
  readonly message: raft_serverpb.RaftMessage;
  readonly chunks: Uint8Array[];
  outcome: "receiving" | "finished" | "aborted";
}

/** Accepts a snapshot only if its chunks' bytes add up to `expectedBytes` (the test's stand-in for a checksum). */
export class RecordingSnapshotSink implements SnapshotSink {
  readonly snapshots: RecordedSnapshot[] = [];

  constructor(private readonly expectedBytes: number) {}

  begin(message: raft_serverpb.RaftMessage): SnapshotReception {
    const recorded: RecordedSnapshot = { message, chunks: [], outcome: "receiving" };
    this.snapshots.push(recorded);
    const expectedBytes = this.expectedBytes;
    return {
      async write(chunk) {
        recorded.chunks.push(chunk);
      },
      async finish() {
        const receivedBytes = recorded.chunks.reduce((sum, chunk) => sum + chunk.length, 0);
        if (receivedBytes !== expectedBytes) throw new Error(`${receivedBytes} of ${expectedBytes} bytes`);
        recorded.outcome = "finished";
      },
      async abort() {
        recorded.outcome = "aborted";
      },
    };
  }
}

export class RecordingRaftServer {
  private constructor(
    private readonly server: Server,
    private readonly receiver: RaftReceiver,
    readonly address: string,
    /** Each BatchRaft item (or Raft message) as it was handed to the raftstore. */
    readonly received: raft_serverpb.RaftMessage[][],
    /** The receive-side filters of this server. */
    readonly filters: TransportFilterChain,
  ) {}

  static async start(
    storeId: bigint,
    snapshotSink: SnapshotSink = new RecordingSnapshotSink(0),
    port = 0,
    snapshotIdleTimeoutMs = 60_000,
  ): Promise<RecordingRaftServer> {
    const received: raft_serverpb.RaftMessage[][] = [];
    const filters = new TransportFilterChain();
    const receiver = new RaftReceiver({
      storeId,
      sink: { onRaftMessages: (messages) => received.push([...messages]) },
      filters,
      maxDelayedMessages: 1024,
      timers: systemTimers,
      logger: silentLogger(),
      metrics: testMetrics().transport,
    });
    const server = new Server(grpcServerOptions(TEST_MAX_MESSAGE_BYTES));
    server.addService(tikvpb.TikvService, {
      raft: receiver.raft,
      batchRaft: receiver.batchRaft,
      snapshot: createSnapshotHandler({
        sink: snapshotSink,
        maxConcurrentReceives: 2,
        idleTimeoutMs: snapshotIdleTimeoutMs,
        timers: systemTimers,
      }),
    });
    const boundPort = await new Promise<number>((resolve, reject) =>
      server.bindAsync(`127.0.0.1:${port}`, ServerCredentials.createInsecure(), (error, bound) =>
        error ? reject(error) : resolve(bound),
      ),
    );
    return new RecordingRaftServer(server, receiver, `127.0.0.1:${boundPort}`, received, filters);
  }

  /** Every message received so far, in arrival order. */
  messages(): raft_serverpb.RaftMessage[] {
    return this.received.flat();
  }

  /** Kills the server abruptly, cutting every open stream (a crashed store). */
  kill(): void {
    this.receiver.close();
    this.server.forceShutdown();
  }
}
