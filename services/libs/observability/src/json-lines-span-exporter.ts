/**
 * A span exporter for local use without a tracing backend: one JSON object per finished span per line,
 * appended to a file (the `file` exporter) or written to stdout (the `console` exporter, so spans sit
 * between the JSON log lines they belong to). `jq 'select(.traceId == "...")' spans.jsonl` shows a trace.
 */
import { createWriteStream, mkdirSync, type WriteStream } from "node:fs";
import { dirname } from "node:path";
import { type Attributes, type HrTime, SpanKind, SpanStatusCode } from "@opentelemetry/api";
import type { ReadableSpan, SpanExporter } from "@opentelemetry/sdk-trace-base";

/** One line of output. Times are wall-clock ISO strings; durations in (fractional) milliseconds. */
export interface SpanRecord {
  readonly traceId: string;
  readonly spanId: string;
  /** Absent on a trace's root span. */
  readonly parentSpanId?: string;
  readonly name: string;
  readonly kind: "internal" | "server" | "client" | "producer" | "consumer";
  readonly service?: string;
  /** The instrumentation that made the span, e.g. "@opentelemetry/instrumentation-grpc" or "tessera". */
  readonly scope: string;
  readonly startTime: string;
  readonly durationMs: number;
  readonly status: "unset" | "ok" | "error";
  readonly statusMessage?: string;
  readonly attributes: Attributes;
  readonly events: readonly {
    readonly name: string;
    readonly time: string;
    readonly attributes?: Attributes;
  }[];
}

/** Where the lines go; `write` calls back once the chunk is handed to the OS (or failed). */
export interface SpanLineSink {
  write(chunk: string, done: (error?: Error | null) => void): void;
  close(): Promise<void>;
}

type ExportCallback = Parameters<SpanExporter["export"]>[1];
type ExportResult = Parameters<ExportCallback>[0];
// ExportResultCode of @opentelemetry/core: SUCCESS = 0, FAILED = 1 (that package is not a direct dependency).
const SUCCESS: ExportResult = { code: 0 };

const KIND_NAMES: Readonly<Record<SpanKind, SpanRecord["kind"]>> = {
  [SpanKind.INTERNAL]: "internal",
  [SpanKind.SERVER]: "server",
  [SpanKind.CLIENT]: "client",
  [SpanKind.PRODUCER]: "producer",
  [SpanKind.CONSUMER]: "consumer",
};

const STATUS_NAMES: Readonly<Record<SpanStatusCode, SpanRecord["status"]>> = {
  [SpanStatusCode.UNSET]: "unset",
  [SpanStatusCode.OK]: "ok",
  [SpanStatusCode.ERROR]: "error",
};

/** Spans handed to an exporter after its shutdown: the SDK counts them as an export failure. */
export class SpanExporterShutDownError extends Error {
  override readonly name = "SpanExporterShutDownError";

  constructor(readonly droppedSpans: number) {
    super(`the span exporter is shut down; ${droppedSpans} spans dropped`);
  }
}

export class JsonLinesSpanExporter implements SpanExporter {
  /** Settles when every chunk written so far has been handed over; forceFlush waits for it. */
  private lastWrite: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(private readonly sink: SpanLineSink) {}

  export(spans: ReadableSpan[], resultCallback: ExportCallback): void {
    if (this.closed) {
      resultCallback({ code: 1, error: new SpanExporterShutDownError(spans.length) });
      return;
    }
    const chunk = spans.map((span) => `${JSON.stringify(spanRecord(span))}\n`).join("");
    this.lastWrite = new Promise((resolve) =>
      this.sink.write(chunk, (error) => {
        resultCallback(error ? { code: 1, error } : SUCCESS);
        resolve();
      }),
    );
  }

  async forceFlush(): Promise<void> {
    await this.lastWrite;
  }

  async shutdown(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.lastWrite;
    await this.sink.close();
  }
}

export function spanRecord(span: ReadableSpan): SpanRecord {
  const context = span.spanContext();
  const service = span.resource.attributes["service.name"];
  return {
    traceId: context.traceId,
    spanId: context.spanId,
    ...(span.parentSpanContext === undefined ? {} : { parentSpanId: span.parentSpanContext.spanId }),
    name: span.name,
    kind: KIND_NAMES[span.kind],
    ...(typeof service === "string" ? { service } : {}),
    scope: span.instrumentationScope.name,
    startTime: isoTime(span.startTime),
    durationMs: hrTimeMs(span.duration),
    status: STATUS_NAMES[span.status.code],
    ...(span.status.message === undefined ? {} : { statusMessage: span.status.message }),
    attributes: span.attributes,
    events: span.events.map((event) => ({
      name: event.name,
      time: isoTime(event.time),
      ...(event.attributes === undefined ? {} : { attributes: event.attributes }),
    })),
  };
}

/** Appends to `path`, creating its directory; lines of one export are written with one call. */
export function fileSink(path: string): SpanLineSink {
  mkdirSync(dirname(path), { recursive: true });
  const stream: WriteStream = createWriteStream(path, { flags: "a" });
  return {
    write: (chunk, done) => void stream.write(chunk, done),
    close: () => new Promise((resolve) => stream.end(resolve)),
  };
}

export function stdoutSink(): SpanLineSink {
  return {
    write: (chunk, done) => void process.stdout.write(chunk, done),
    // stdout belongs to the process, not to the exporter.
    close: async () => {},
  };
}

function hrTimeMs([seconds, nanoseconds]: HrTime): number {
  return seconds * 1000 + nanoseconds / 1e6;
}

function isoTime(time: HrTime): string {
  return new Date(hrTimeMs(time)).toISOString();
}
