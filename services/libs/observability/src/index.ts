export {
  fileSink,
  JsonLinesSpanExporter,
  type SpanLineSink,
  type SpanRecord,
  spanRecord,
  stdoutSink,
} from "./json-lines-span-exporter.ts";
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
export {
  activeTraceContext,
  addSpanEvent,
  isRecording,
  TRACER_NAME,
  withRemoteParent,
  withSpan,
} from "./spans.ts";
export {
  instrumentGrpc,
  type RunningTracing,
  startTracing,
  TracingAlreadyStartedError,
  TracingConfigError,
  UNTRACED_GRPC_METHODS,
} from "./tracing.ts";
export {
  DEFAULT_OTLP_ENDPOINT,
  DEFAULT_SPAN_FILE_NAME,
  TRACING_EXPORTERS,
  type TracingConfig,
  type TracingExporter,
  type TracingOptions,
  tracingConfigSchema,
  tracingOptionsFromConfig,
} from "./tracing-config.ts";
