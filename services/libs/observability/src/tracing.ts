/**
 * OpenTelemetry tracing through `@opentelemetry/sdk-node` with `@opentelemetry/instrumentation-grpc`:
 * every unary gRPC call gets a client span in the caller and a server span in the callee, linked by the
 * W3C `traceparent` the instrumentation carries in the call's metadata.
 *
 * Import order matters (docs/architecture.md, "Tracing gRPC under ESM"): the instrumentation patches
 * `@grpc/grpc-js` as the module loads, and our ESM `import`s of it bypass the `require` hook the
 * instrumentation relies on. So `instrumentGrpc` registers an ESM loader hook (import-in-the-middle,
 * scoped to grpc-js) and must run before anything imports grpc-js — even a service's config module may
 * (through the generated protocol code) — so a service's `main` calls it first and loads the rest with
 * dynamic `import()`. A late start is reported in `grpcInstrumented`, never silently ignored.
 *
 * The SDK itself (about a second to import) is loaded only when an exporter is configured. With tracing
 * off the instrumentation still wraps unary calls, starting no-op spans (microseconds per call); the
 * long-lived streams that carry the hot paths are not wrapped at all (UNTRACED_GRPC_METHODS); requests
 * on a BatchCommands stream carry their caller's trace context in `kvrpcpb.Context.trace_context`
 * instead, and the store makes a server span for each (spans.ts, `withRemoteParent`).
 */
import { createRequire, register } from "node:module";
import { dirname, sep } from "node:path";
import { pathToFileURL } from "node:url";
import { type DiagLogger, DiagLogLevel, diag } from "@opentelemetry/api";
import type { GrpcInstrumentation } from "@opentelemetry/instrumentation-grpc";
import type { SpanExporter } from "@opentelemetry/sdk-trace-base";
import { fileSink, JsonLinesSpanExporter, stdoutSink } from "./json-lines-span-exporter.ts";
import type { Logger } from "./logger.ts";
import type { TracingExporter, TracingOptions } from "./tracing-config.ts";

export interface RunningTracing {
  /** False for exporter "none": nothing is recorded and nothing was loaded. */
  readonly enabled: boolean;
  /**
   * False when tracing is off, or when grpc-js was loaded before `startTracing` (its calls then carry no
   * spans and no trace context); services log a warning in that case.
   */
  readonly grpcInstrumented: boolean;
  /** Exports every finished span now. */
  forceFlush(): Promise<void>;
  /** Exports what is left and stops; register it as the last closer of a GracefulShutdown. Idempotent. */
  shutdown(): Promise<void>;
}

/**
 * Streams that live for minutes or for the whole process, multiplexing many requests: a span per stream
 * would say nothing about any request, and would nest under whichever request happened to open it.
 * Ours (tikvpb, pdpb) and those of the etcd client pd uses.
 */
export const UNTRACED_GRPC_METHODS: readonly string[] = [
  "BatchCommands",
  "Raft",
  "BatchRaft",
  "Tso",
  "RegionHeartbeat",
  "Watch",
  "LeaseKeepAlive",
];

/** How often finished spans are handed to the exporter. */
const EXPORT_INTERVAL_MS = 1_000;

const TRACING_OFF: RunningTracing = {
  enabled: false,
  grpcInstrumented: false,
  forceFlush: async () => {},
  shutdown: async () => {},
};

export class TracingConfigError extends Error {
  override readonly name = "TracingConfigError";
}

/** The OpenTelemetry API keeps one global tracer provider per process, so tracing starts once. */
export class TracingAlreadyStartedError extends Error {
  override readonly name = "TracingAlreadyStartedError";

  constructor(readonly serviceName: string) {
    super(`tracing was already started in this process; "${serviceName}" cannot start it again`);
  }
}

interface InstalledGrpcInstrumentation {
  readonly instrumentation: GrpcInstrumentation;
  /** False when grpc-js had been loaded already, so the instrumentation could not patch it. */
  readonly beforeGrpcLoaded: boolean;
}

let installed: Promise<InstalledGrpcInstrumentation> | undefined;
let startedInProcess = false;

/**
 * Installs the gRPC instrumentation; call it before anything imports `@grpc/grpc-js`. Spans stay no-ops
 * until `startTracing` sets up the SDK. Idempotent; resolves to false when it came too late.
 */
export async function instrumentGrpc(): Promise<boolean> {
  installed ??= installGrpcInstrumentation();
  return (await installed).beforeGrpcLoaded;
}

async function installGrpcInstrumentation(): Promise<InstalledGrpcInstrumentation> {
  const beforeGrpcLoaded = !isGrpcLoaded();
  registerGrpcLoaderHook();
  const { GrpcInstrumentation } = await import("@opentelemetry/instrumentation-grpc");
  const instrumentation = new GrpcInstrumentation({ ignoreGrpcMethods: [...UNTRACED_GRPC_METHODS] });
  return { instrumentation, beforeGrpcLoaded };
}

/** Starts the SDK with the configured exporter (installing the gRPC instrumentation if not done yet). */
export async function startTracing(
  options: TracingOptions & { readonly logger?: Logger },
): Promise<RunningTracing> {
  if (options.exporter === "none") return TRACING_OFF;
  checkOptions(options);
  if (startedInProcess) throw new TracingAlreadyStartedError(options.serviceName);
  startedInProcess = true;
  if (options.logger !== undefined) diag.setLogger(diagLogger(options.logger), DiagLogLevel.WARN);

  const grpcInstrumented = await instrumentGrpc();
  const { instrumentation } = await installed!;
  const [{ NodeSDK, core }, traceBase] = await Promise.all([
    import("@opentelemetry/sdk-node"),
    import("@opentelemetry/sdk-trace-base"),
  ]);
  const processor = new traceBase.BatchSpanProcessor(await createExporter(options.exporter, options), {
    scheduledDelayMillis: EXPORT_INTERVAL_MS,
  });
  const sdk = new NodeSDK({
    serviceName: options.serviceName,
    spanProcessors: [processor],
    // Follow the caller's decision, so a trace is recorded in every process or in none.
    sampler: new traceBase.ParentBasedSampler({
      root: new traceBase.TraceIdRatioBasedSampler(options.sampleRatio),
    }),
    textMapPropagator: new core.W3CTraceContextPropagator(),
    instrumentations: [instrumentation],
    // Metrics are Prometheus' job here, and logs go through pino: without these empty lists the SDK
    // would start OTLP metric and log exporters of its own.
    metricReaders: [],
    logRecordProcessors: [],
  });
  sdk.start();

  let stopping: Promise<void> | undefined;
  return {
    enabled: true,
    grpcInstrumented,
    forceFlush: () => processor.forceFlush(),
    shutdown: () => {
      stopping ??= sdk.shutdown();
      return stopping;
    },
  };
}

function checkOptions(options: TracingOptions): void {
  if (!(options.sampleRatio >= 0 && options.sampleRatio <= 1)) {
    throw new TracingConfigError(`tracing sample ratio must be within [0, 1], got ${options.sampleRatio}`);
  }
  if (options.exporter === "file" && !options.filePath) {
    throw new TracingConfigError('the "file" span exporter needs a file path');
  }
}

async function createExporter(
  exporter: Exclude<TracingExporter, "none">,
  options: TracingOptions,
): Promise<SpanExporter> {
  switch (exporter) {
    case "console":
      return new JsonLinesSpanExporter(stdoutSink());
    case "file":
      return new JsonLinesSpanExporter(fileSink(options.filePath!));
    case "otlp": {
      const { OTLPTraceExporter } = await import("@opentelemetry/exporter-trace-otlp-http");
      return new OTLPTraceExporter({ url: options.otlpEndpoint });
    }
  }
}

const moduleRequire = createRequire(import.meta.url);
const GRPC_PATH_PART = `${sep}@grpc${sep}grpc-js${sep}`;

/** ESM imports of a CommonJS package go through the CommonJS loader too, so its cache shows either kind. */
function isGrpcLoaded(): boolean {
  return Object.keys(moduleRequire.cache).some((path) => path.includes(GRPC_PATH_PART));
}

/**
 * Registers import-in-the-middle's loader hook for grpc-js only (every other module loads untouched).
 * The hook is resolved from the grpc instrumentation's own dependency, the copy whose `Hook` the
 * instrumentation registers with.
 */
function registerGrpcLoaderHook(): void {
  const instrumentationDirectory = dirname(moduleRequire.resolve("@opentelemetry/instrumentation-grpc"));
  const hookPath = createRequire(`${instrumentationDirectory}${sep}`).resolve(
    "@opentelemetry/instrumentation/hook.mjs",
  );
  register(pathToFileURL(hookPath), { data: { include: ["@grpc/grpc-js"] } });
}

/** OpenTelemetry's own warnings (an unreachable collector, a full span queue) as log lines. */
function diagLogger(logger: Logger): DiagLogger {
  const at =
    (level: "error" | "warn" | "info" | "debug" | "trace") =>
    (message: string, ...args: unknown[]) =>
      logger[level]({ subsystem: "opentelemetry", args }, message);
  return { error: at("error"), warn: at("warn"), info: at("info"), debug: at("debug"), verbose: at("trace") };
}
