/**
 * Spans of our own code, beside the gRPC instrumentation's: a span around a piece of async work becomes
 * the active span while the work runs, so spans it starts (and log lines it writes) belong to it.
 * While tracing is off these calls go to the OpenTelemetry API's no-op tracer and cost next to nothing.
 */
import {
  type Attributes,
  context,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
} from "@opentelemetry/api";
import { asError } from "#runtime";

/** The instrumentation scope of every span made here. */
export const TRACER_NAME = "tessera";

/** The W3C header a trace context travels in. */
const TRACEPARENT = "traceparent";

/** Runs `work` inside a new span; a rejection is recorded on the span (status error) and rethrown. */
export function withSpan<T>(
  name: string,
  attributes: Attributes,
  work: () => Promise<T>,
  kind: SpanKind = SpanKind.INTERNAL,
): Promise<T> {
  return trace.getTracer(TRACER_NAME).startActiveSpan(name, { attributes, kind }, async (span) => {
    try {
      return await work();
    } catch (error) {
      const failure = asError(error);
      span.recordException(failure);
      span.setStatus({ code: SpanStatusCode.ERROR, message: failure.message });
      throw error;
    } finally {
      span.end();
    }
  });
}

/**
 * Whether the active span is being recorded. A child of an unrecorded span is never recorded (samplers
 * follow the parent), so hot paths can skip making one.
 */
export function isRecording(): boolean {
  return trace.getActiveSpan()?.isRecording() === true;
}

/** Notes something that happened during the active span (a retry, a backoff sleep), if there is one. */
export function addSpanEvent(name: string, attributes: Attributes): void {
  trace.getActiveSpan()?.addEvent(name, attributes);
}

/**
 * The active span's context as a W3C `traceparent`, for requests that cannot carry it in gRPC metadata
 * (one BatchCommands stream carries many requests). Empty when nothing is traced, or tracing is off.
 */
export function activeTraceContext(): string {
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  return carrier[TRACEPARENT] ?? "";
}

/**
 * Runs `work` in a server span whose parent is the caller's span named by `traceContext` (what
 * `activeTraceContext` produced on the other side). An untraced request (empty context) starts no span:
 * it would only make a root span per request of the hot path.
 */
export function withRemoteParent<T>(
  traceContext: string,
  name: string,
  attributes: Attributes,
  work: () => Promise<T>,
): Promise<T> {
  if (traceContext === "") return work();
  const parent = propagation.extract(ROOT_CONTEXT, { [TRACEPARENT]: traceContext });
  return context.with(parent, () => withSpan(name, attributes, work, SpanKind.SERVER));
}
