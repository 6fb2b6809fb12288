export { type CreateLoggerOptions, createLogger, LOG_LEVELS, type Logger, type LogLevel } from "./logger.ts";
export {
  assertMetricName,
  COUNT_BUCKETS,
  type CounterUnit,
  createRegistry,
  type GaugeUnit,
  type HistogramUnit,
  LATENCY_SECONDS_BUCKETS,
  MetricFactory,
  MetricNameError,
  type MetricNameParts,
  type MetricUnit,
  metricName,
  SIZE_BYTES_BUCKETS,
} from "./metrics.ts";
