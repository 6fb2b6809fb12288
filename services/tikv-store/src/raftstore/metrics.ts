/**
 * The raftstore's figures, named `store_raftstore_<name>_<unit>` (TiKV's `tikv_raftstore_*` are the
 * models): how well group commit works (entries and regions per fsync), how long fsyncs and applies take,
 * and how many regions and leaders the store holds.
 */
import { type Counter, type Gauge, type Histogram, Registry } from "prom-client";
import { COUNT_BUCKETS, MetricFactory } from "#observability";

export interface RaftstoreMetrics {
  readonly fsyncs: Counter;
  readonly fsyncDuration: Histogram;
  /** Raft engine write batches by size: one per turn with persistent work. */
  readonly raftWriteBatchBytes: Histogram;
  readonly entriesPerFsync: Histogram;
  readonly regionsPerTurn: Histogram;
  readonly applyDuration: Histogram;
  readonly applyWriteBatchBytes: Histogram;
  readonly appliedEntries: Counter;
  readonly turnDuration: Histogram;
  readonly regions: Gauge;
  readonly leaders: Gauge;
  /** Proposals that never reached the log, by reason (not_leader, busy, too_large, epoch, dropped). */
  readonly proposalsDropped: Counter<"reason">;
  readonly staleCommands: Counter;
  readonly reads: Counter<"path">;
  readonly snapshots: Counter<"event">;
  readonly raftMessagesDropped: Counter<"reason">;
  readonly peersCreated: Counter;
  readonly peersDestroyed: Counter<"reason">;
  readonly splits: Counter;
  readonly logCompactions: Counter;
  /** Background tasks (split checks, snapshot work, pd calls) that failed; each failure is also logged. */
  readonly backgroundTaskFailures: Counter;
}

export function createRaftstoreMetrics(factory: MetricFactory): RaftstoreMetrics {
  const subsystem = "raftstore";
  return {
    fsyncs: factory.counter({ subsystem, name: "fsync", unit: "total", help: "Synced raft engine writes" }),
    fsyncDuration: factory.histogram({
      subsystem,
      name: "fsync_duration",
      unit: "seconds",
      help: "Time of one synced raft engine write (all regions of a turn)",
    }),
    raftWriteBatchBytes: factory.histogram({
      subsystem,
      name: "raft_write_batch_size",
      unit: "bytes",
      help: "Size of the raft engine write batch of one turn",
    }),
    entriesPerFsync: factory.histogram({
      subsystem,
      name: "entries_per_fsync",
      unit: "count",
      help: "Raft entries made durable by one fsync",
      buckets: COUNT_BUCKETS,
    }),
    regionsPerTurn: factory.histogram({
      subsystem,
      name: "regions_per_turn",
      unit: "count",
      help: "Regions with a Ready handled in one store loop turn",
      buckets: COUNT_BUCKETS,
    }),
    applyDuration: factory.histogram({
      subsystem,
      name: "apply_duration",
      unit: "seconds",
      help: "Time to apply the committed entries of one turn (one kv write batch)",
    }),
    applyWriteBatchBytes: factory.histogram({
      subsystem,
      name: "apply_write_batch_size",
      unit: "bytes",
      help: "Size of the kv write batch of one turn",
    }),
    appliedEntries: factory.counter({
      subsystem,
      name: "applied_entries",
      unit: "total",
      help: "Entries applied",
    }),
    turnDuration: factory.histogram({
      subsystem,
      name: "turn_duration",
      unit: "seconds",
      help: "Time of one store loop turn",
    }),
    regions: factory.gauge({ subsystem, name: "region", unit: "count", help: "Peers on this store" }),
    leaders: factory.gauge({
      subsystem,
      name: "leader",
      unit: "count",
      help: "Peers on this store that lead",
    }),
    proposalsDropped: factory.counter({
      subsystem,
      name: "proposals_dropped",
      unit: "total",
      help: "Proposals refused before reaching the log, by reason",
      labelNames: ["reason"] as const,
    }),
    staleCommands: factory.counter({
      subsystem,
      name: "stale_commands",
      unit: "total",
      help: "Proposals answered StaleCommand (overwritten entries, lost leadership)",
    }),
    reads: factory.counter({
      subsystem,
      name: "reads",
      unit: "total",
      help: "Linearizable reads by path (lease, read_index)",
      labelNames: ["path"] as const,
    }),
    snapshots: factory.counter({
      subsystem,
      name: "snapshots",
      unit: "total",
      help: "Snapshot events (generated, sent, send_failed, received, receive_failed, applied, rejected)",
      labelNames: ["event"] as const,
    }),
    raftMessagesDropped: factory.counter({
      subsystem,
      name: "raft_messages_dropped",
      unit: "total",
      help: "Incoming raft messages dropped, by reason",
      labelNames: ["reason"] as const,
    }),
    peersCreated: factory.counter({ subsystem, name: "peers_created", unit: "total", help: "Peers created" }),
    backgroundTaskFailures: factory.counter({
      subsystem,
      name: "background_task_failures",
      unit: "total",
      help: "Background tasks that failed (logged with their name)",
    }),
    peersDestroyed: factory.counter({
      subsystem,
      name: "peers_destroyed",
      unit: "total",
      help: "Peers destroyed, by reason",
      labelNames: ["reason"] as const,
    }),
    splits: factory.counter({ subsystem, name: "splits", unit: "total", help: "Split commands applied" }),
    logCompactions: factory.counter({
      subsystem,
      name: "log_compactions",
      unit: "total",
      help: "Raft log GC commands applied",
    }),
  };
}

/** Metrics on a private registry, for tests and tools that do not export them. */
export function createDetachedRaftstoreMetrics(): RaftstoreMetrics {
  return createRaftstoreMetrics(new MetricFactory(new Registry(), "store"));
}
