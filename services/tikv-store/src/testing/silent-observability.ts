import { createLogger, createRegistry, type Logger, MetricFactory } from "#observability";
import { createServerMetrics, type ServerMetrics } from "../server/server-metrics.ts";

export function silentLogger(): Logger {
  return createLogger({ component: "store", level: "silent" });
}

export function testMetrics(): ServerMetrics {
  return createServerMetrics(new MetricFactory(createRegistry("store"), "store"));
}
