/**
 * Prometheus metrics of the raw client beside the RPC client's: backoffs by kind (which failures cost
 * time), region cache lookups by result (how often a call had to ask pd), and call latency by operation.
 */
import type { Counter, Histogram } from "prom-client";
import type { MetricFactory } from "#observability";

export class RawKvMetrics {
  readonly backoffs: Counter<"kind">;
  readonly regionCacheLookups: Counter<"result">;
  readonly operationDuration: Histogram<"operation" | "outcome">;

  constructor(factory: MetricFactory) {
    this.backoffs = factory.counter({
      subsystem: "tikvclient",
      name: "backoff",
      unit: "total",
      help: "Backoff sleeps by kind (tikvRPC, regionMiss, serverBusy, ...)",
      labelNames: ["kind"],
    });
    this.regionCacheLookups = factory.counter({
      subsystem: "tikvclient",
      name: "region_cache_lookups",
      unit: "total",
      help: "Region cache lookups by result (hit, or miss answered by pd)",
      labelNames: ["result"],
    });
    this.operationDuration = factory.histogram({
      subsystem: "tikvclient",
      name: "raw_operation_duration",
      unit: "seconds",
      help: "Raw key-value call latency, retries included, by operation and outcome",
      labelNames: ["operation", "outcome"],
    });
  }
}
