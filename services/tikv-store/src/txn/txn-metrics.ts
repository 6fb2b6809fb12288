/**
 * The transaction scheduler's figures, `store_txn_<name>_<unit>` (TiKV's `tikv_scheduler_*` are the
 * models): commands by type and outcome, how long they waited for latches, and how long they ran.
 */
import { type Counter, type Histogram, Registry } from "prom-client";
import { MetricFactory } from "#observability";

export interface TxnMetrics {
  /** Outcomes: ok, key_error, region_error, error. */
  readonly commands: Counter<"type" | "outcome">;
  readonly commandDuration: Histogram<"type">;
  readonly latchWaitDuration: Histogram<"type">;
  readonly latchesFull: Counter;
  /** Pessimistic lock waits by how they ended (woken, timeout, deadlock, cancelled, too_many_waiters). */
  readonly lockWaits: Counter<"outcome">;
  readonly lockWaitDuration: Histogram;
  readonly deadlocks: Counter;
  readonly maxTsSyncs: Counter;
}

export function createTxnMetrics(factory: MetricFactory): TxnMetrics {
  const subsystem = "txn";
  return {
    commands: factory.counter({
      subsystem,
      name: "commands",
      unit: "total",
      help: "Transactional commands by type and outcome",
      labelNames: ["type", "outcome"] as const,
    }),
    commandDuration: factory.histogram({
      subsystem,
      name: "command_duration",
      unit: "seconds",
      help: "Time of a transactional command from arrival to answer",
      labelNames: ["type"] as const,
    }),
    latchWaitDuration: factory.histogram({
      subsystem,
      name: "latch_wait_duration",
      unit: "seconds",
      help: "Time a write command waited for its latches",
      labelNames: ["type"] as const,
    }),
    latchesFull: factory.counter({
      subsystem,
      name: "latches_full",
      unit: "total",
      help: "Commands refused (ServerIsBusy) because too many were waiting for latches",
    }),
    lockWaits: factory.counter({
      subsystem,
      name: "lock_waits",
      unit: "total",
      help: "Pessimistic lock waits by outcome",
      labelNames: ["outcome"] as const,
    }),
    lockWaitDuration: factory.histogram({
      subsystem,
      name: "lock_wait_duration",
      unit: "seconds",
      help: "Time a pessimistic lock request waited for another transaction's lock",
    }),
    deadlocks: factory.counter({ subsystem, name: "deadlocks", unit: "total", help: "Deadlocks detected" }),
    maxTsSyncs: factory.counter({
      subsystem,
      name: "max_ts_syncs",
      unit: "total",
      help: "Times a region's max_ts was raised from the TSO (new leader term or region version)",
    }),
  };
}

export function createDetachedTxnMetrics(): TxnMetrics {
  return createTxnMetrics(new MetricFactory(new Registry(), "store"));
}
