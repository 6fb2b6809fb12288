/**
 * Test-only: a store's raft-facing gRPC endpoints (Raft, BatchRaft, Snapshot) over real gRPC on
 * 127.0.0.1 with a recording sink instead of a raftstore, plus the metrics and resolver the transport
 * needs. Not used by production code.
 */
import { Server, ServerCredentials } from "@grpc/grpc-js";
import { createLogger, createRegistry, type Logger, MetricFactory } from "#observability";
import { eraftpb, raft_serverpb, tikvpb } from "#proto";
import { systemTimers } from "#runtime";
import { grpcServerOptions } from "./grpc-options.ts";
import { RaftReceiver } from "./raft-receiver.ts";
import { createServerMetrics, type ServerMetrics } from "./server-metrics.ts";
import { createSnapshotHandler, type SnapshotReception, type SnapshotSink } from "./snapshot-stream.ts";
import { type StoreResolver, StoreUnresolvableError } from "./store-resolver.ts";
import { TransportFilterChain } from "./transport-filter.ts";

export const TEST_MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

export function silentLogger(): Logger {
  return createLogger({ component: "store", level: "silent" });
}

export function testMetrics(): ServerMetrics {
  return createServerMetrics(new MetricFactory(createRegistry("store"), "store"));
}

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

export class TestRaftServer {
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
  ): Promise<TestRaftServer> {
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
    return new TestRaftServer(server, receiver, `127.0.0.1:${boundPort}`, received, filters);
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

/** A resolver over a map the test edits, counting lookups. */
export class MapStoreResolver implements StoreResolver {
  readonly addresses = new Map<bigint, string>();
  resolves = 0;
  invalidations = 0;

  async resolve(storeId: bigint): Promise<string> {
    this.resolves++;
    const address = this.addresses.get(storeId);
    if (address === undefined) throw new StoreUnresolvableError(storeId, "not in the test map");
    return address;
  }

  invalidate(): void {
    this.invalidations++;
  }
}

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

/** Polls `condition` every 10 ms until it holds; fails with `what` after `timeoutMs` (a bound, not a timing assertion). */
export async function waitFor(what: string, condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
