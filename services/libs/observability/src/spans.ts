/**
 * Spans of our own code, beside the gRPC instrumentation's: a span around a piece of async work becomes
 * the active span while the work runs, so spans it starts (and log lines it writes) belong to it.
 * While tracing is off these calls go to the OpenTelemetry API's no-op tracer and cost next to nothing.
 */
import { type Attributes, SpanStatusCode, trace } from "@opentelemetry/api";

/** The instrumentation scope of every span made here. */
export const TRACER_NAME = "tessera";

/** Runs `work` inside a new span; a rejection is recorded on the span (status error) and rethrown. */
export function withSpan<T>(name: string, attributes: Attributes, work: () => Promise<T>): Promise<T> {
  return trace.getTracer(TRACER_NAME).startActiveSpan(name, { attributes }, async (span) => {
    try {
      return await work();
    } catch (error) {
      const failure = error instanceof Error ? error : new Error(String(error));
      span.recordException(failure);
      span.setStatus({ code: SpanStatusCode.ERROR, message: failure.message });
      throw error;
    } finally {
      span.end();
    }
  });
}

/** Notes something that happened during the active span (a retry, a backoff sleep), if there is one. */
export function addSpanEvent(name: string, attributes: Attributes): void {
  trace.getActiveSpan()?.addEvent(name, attributes);
}
