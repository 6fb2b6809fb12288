/**
 * Metrics of the store's network side: client requests per RPC, raft traffic between stores, snapshots,
 * and the handlers' calls into the raftstore (`instrumentedStore`, which also traces them).
 * Names follow `store_<subsystem>_<name>_<unit>` (TiKV's `tikv_grpc_msg_duration_seconds`,
 * `tikv_server_raft_message_*` and `tikv_storage_engine_async_request_duration_seconds` are the models).
 * The raftstore's own figures (raft, apply, write batch, fsync) are registered by the raftstore on the
 * same registry.
 */
import type { Counter, Gauge, Histogram } from "prom-client";
import { type MetricFactory, withSpan } from "#observability";
import type { Clock } from "#runtime";
import type { ServedStore } from "./served-store.ts";

export interface GrpcMetrics {
  /** Requests by RPC name (`raw_get`, … also inside BatchCommands) and outcome (ok, region_error, error). */
  readonly requests: Counter<"type" | "outcome">;
  readonly requestDuration: Histogram<"type">;
  readonly batchCommandsInFlight: Gauge;
}

export interface RaftTransportMetrics {
  readonly messagesSent: Counter;
  /** Dropped messages by reason: queue_full, unreachable, filter, closed. */
  readonly messagesDropped: Counter<"reason">;
  readonly messagesReceived: Counter;
  readonly batchMessages: Histogram;
  readonly reconnects: Counter;
  /** Snapshots sent and received by outcome. */
  readonly snapshots: Counter<"direction" | "outcome">;
}

export interface RaftKvMetrics {
  /** Calls into the raftstore by type (write, compare_and_swap, read, split) and outcome (ok, error). */
  readonly requestDuration: Histogram<"type" | "outcome">;
}

export interface ServerMetrics {
  readonly grpc: GrpcMetrics;
  readonly transport: RaftTransportMetrics;
  readonly raftkv: RaftKvMetrics;
}

export function createServerMetrics(factory: MetricFactory): ServerMetrics {
  return { grpc: grpcMetrics(factory), transport: transportMetrics(factory), raftkv: raftKvMetrics(factory) };
}

/**
 * The handlers' view of the store, with a span (`raftkv.<type>`, a child of the RPC's server span) and a
 * latency sample around each raftstore call. For a write, that is proposing, replicating, committing and
 * applying together; the raftstore measures its own stages inside (fsync and apply histograms).
 */
export function instrumentedStore(store: ServedStore, metrics: RaftKvMetrics, clock: Clock): ServedStore {
  const observe = async <T>(type: string, regionId: bigint, work: () => Promise<T>): Promise<T> => {
    const startedMs = clock.monotonicMs();
    let outcome = "error";
    try {
      const result = await withSpan(`raftkv.${type}`, { "tessera.region_id": regionId.toString() }, work);
      outcome = "ok";
      return result;
    } finally {
      metrics.requestDuration.observe({ type, outcome }, (clock.monotonicMs() - startedMs) / 1000);
    }
  };
  return {
    storeId: store.storeId,
    write: (context, mutations) => observe("write", context.regionId, () => store.write(context, mutations)),
    compareAndSwap: (context, request) =>
      observe("compare_and_swap", context.regionId, () => store.compareAndSwap(context, request)),
    read: (context, check, readFn) =>
      observe("read", context.regionId, () => store.read(context, check, readFn)),
    splitRegion: (regionId, splitKeys) =>
      observe("split", regionId, () => store.splitRegion(regionId, splitKeys)),
    onRaftMessages: (messages) => store.onRaftMessages(messages),
  };
}

function grpcMetrics(factory: MetricFactory): GrpcMetrics {
  return {
    requests: factory.counter({
      subsystem: "grpc",
      name: "requests",
      unit: "total",
      help: "Client requests handled, by RPC and outcome (ok, region_error, error)",
      labelNames: ["type", "outcome"] as const,
    }),
    requestDuration: factory.histogram({
      subsystem: "grpc",
      name: "request_duration",
      unit: "seconds",
      help: "Time from receiving a client request to its answer, by RPC",
      labelNames: ["type"] as const,
    }),
    batchCommandsInFlight: factory.gauge({
      subsystem: "grpc",
      name: "batch_commands_in_flight",
      unit: "count",
      help: "Requests received on BatchCommands streams and not answered yet",
    }),
  };
}

function transportMetrics(factory: MetricFactory): RaftTransportMetrics {
  return {
    messagesSent: factory.counter({
      subsystem: "transport",
      name: "raft_messages_sent",
      unit: "total",
      help: "Raft messages written to streams towards other stores",
    }),
    messagesDropped: factory.counter({
      subsystem: "transport",
      name: "raft_messages_dropped",
      unit: "total",
      help: "Raft messages dropped before reaching the other store, by reason",
      labelNames: ["reason"] as const,
    }),
    messagesReceived: factory.counter({
      subsystem: "transport",
      name: "raft_messages_received",
      unit: "total",
      help: "Raft messages received from other stores and handed to the raftstore",
    }),
    batchMessages: factory.histogram({
      subsystem: "transport",
      name: "raft_batch_messages",
      unit: "count",
      help: "Raft messages per BatchRaft item sent",
    }),
    reconnects: factory.counter({
      subsystem: "transport",
      name: "reconnects",
      unit: "total",
      help: "Raft streams to other stores re-established after a failure",
    }),
    snapshots: factory.counter({
      subsystem: "transport",
      name: "snapshots",
      unit: "total",
      help: "Region snapshots streamed, by direction (send, receive) and outcome (ok, failed)",
      labelNames: ["direction", "outcome"] as const,
    }),
  };
}

function raftKvMetrics(factory: MetricFactory): RaftKvMetrics {
  return {
    requestDuration: factory.histogram({
      subsystem: "raftkv",
      name: "request_duration",
      unit: "seconds",
      help: "Time of one call from a request handler into the raftstore (a write: propose to applied), by type and outcome",
      labelNames: ["type", "outcome"] as const,
    }),
  };
}
