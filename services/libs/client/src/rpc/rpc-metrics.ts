/**
 * Prometheus metrics of the store RPC client, named like TiDB's `tidb_tikvclient_*`: request latency by
 * command and outcome, requests per stream message (how well batching works), and stream lifecycle events
 * (breaks and idle recycles, the two paths seed 000 found racy).
 */
import type { Counter, Histogram } from "prom-client";
import type { MetricFactory } from "#observability";

export type RequestOutcome = "ok" | "timeout" | "unavailable" | "rejected";
export type StreamEvent = "opened" | "broken" | "recycled";

export class RpcMetrics {
  private readonly requestDuration: Histogram<"command" | "outcome">;
  private readonly batchSize: Histogram;
  private readonly streamEvents: Counter<"event">;

  constructor(factory: MetricFactory) {
    this.requestDuration = factory.histogram({
      subsystem: "tikvclient",
      name: "request_duration",
      unit: "seconds",
      help: "Store RPC latency from send to answer or failure, by BatchCommands command and outcome",
      labelNames: ["command", "outcome"],
    });
    this.batchSize = factory.histogram({
      subsystem: "tikvclient",
      name: "batch_requests",
      unit: "count",
      help: "Requests carried by one BatchCommands stream message",
    });
    this.streamEvents = factory.counter({
      subsystem: "tikvclient",
      name: "stream_events",
      unit: "total",
      help: "BatchCommands streams opened, broken and recycled after idling",
      labelNames: ["event"],
    });
  }

  observeRequest(command: string, outcome: RequestOutcome, seconds: number): void {
    this.requestDuration.observe({ command, outcome }, seconds);
  }

  observeBatch(requests: number): void {
    this.batchSize.observe(requests);
  }

  countStream(event: StreamEvent): void {
    this.streamEvents.inc({ event });
  }
}
