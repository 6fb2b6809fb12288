/**
 * The `tracing.*` settings every service shares, as a schema fragment the services spread into their own
 * config schema (`...tracingConfigSchema`), and the step from loaded values to `startTracing` options.
 */
import { join } from "node:path";
import { defineConfigSchema } from "#runtime";

export const TRACING_EXPORTERS = ["none", "console", "file", "otlp"] as const;
export type TracingExporter = (typeof TRACING_EXPORTERS)[number];

export const DEFAULT_OTLP_ENDPOINT = "http://127.0.0.1:4318/v1/traces";
/** Where the file exporter writes when `tracing.file` is empty, inside the service's data directory. */
export const DEFAULT_SPAN_FILE_NAME = "spans.jsonl";

export const tracingConfigSchema = defineConfigSchema({
  "tracing.exporter": {
    type: "enum",
    values: TRACING_EXPORTERS,
    default: "none",
    doc: "Where OpenTelemetry spans go: none (tracing off), console (JSON lines on stdout), file (JSON lines in tracing.file) or otlp (OTLP/HTTP to tracing.otlp-endpoint, e.g. a Jaeger or an OpenTelemetry collector).",
  },
  "tracing.file": {
    type: "string",
    default: "",
    doc: `File the file exporter appends spans to, one JSON object per line; empty means ${DEFAULT_SPAN_FILE_NAME} in data-dir.`,
  },
  "tracing.otlp-endpoint": {
    type: "string",
    default: DEFAULT_OTLP_ENDPOINT,
    doc: "OTLP/HTTP traces URL the otlp exporter posts spans to.",
  },
  "tracing.sample-ratio": {
    type: "number",
    default: 1,
    min: 0,
    max: 1,
    doc: "Share of new traces recorded (0 to 1); a request that arrives inside a sampled trace is always recorded, so a trace is whole or absent. Lower it under production load.",
  },
});

/** The loaded `tracing` table of a service's config. */
export interface TracingConfig {
  readonly exporter: TracingExporter;
  readonly file: string;
  readonly otlpEndpoint: string;
  readonly sampleRatio: number;
}

export interface TracingOptions {
  /** `service.name` of every span: "pd", "tikv-store", "sql-gateway". */
  readonly serviceName: string;
  readonly exporter: TracingExporter;
  /** Required by the file exporter. */
  readonly filePath?: string;
  readonly otlpEndpoint?: string;
  /** 0 to 1. */
  readonly sampleRatio: number;
}

export function tracingOptionsFromConfig(
  config: TracingConfig,
  service: { readonly serviceName: string; readonly dataDir: string },
): TracingOptions {
  return {
    serviceName: service.serviceName,
    exporter: config.exporter,
    filePath: config.file === "" ? join(service.dataDir, DEFAULT_SPAN_FILE_NAME) : config.file,
    otlpEndpoint: config.otlpEndpoint,
    sampleRatio: config.sampleRatio,
  };
}
