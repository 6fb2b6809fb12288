/**
 * Structured JSON logs (pino). Every line carries `component`, `pid` and `hostname`; child loggers add the
 * ids that make a line findable (`logger.child({ regionId, storeId })`).
 *
 * bigint fields (region ids, timestamps) are written as decimal strings: pino would otherwise fall back to
 * printing them as bare JSON numbers above 2^53, which every JavaScript JSON reader silently rounds.
 *
 * A line written while a recorded (sampled) span is active (see tracing.ts) also carries `traceId` and `spanId`, so
 * the log lines of one request can be found from its trace and the other way round.
 */
import { hostname } from "node:os";
import { context, isSpanContextValid, TraceFlags, trace } from "@opentelemetry/api";
import {
  type Bindings,
  type ChildLoggerOptions,
  type DestinationStream,
  type LevelWithSilent,
  type Logger,
  pino,
} from "pino";

export type { Logger };
export type LogLevel = LevelWithSilent;

export const LOG_LEVELS: readonly LogLevel[] = ["fatal", "error", "warn", "info", "debug", "trace", "silent"];

export interface CreateLoggerOptions {
  /** e.g. "pd", "tikv-store", "sql-gateway". */
  readonly component: string;
  readonly level: LogLevel;
  /** Where lines go; defaults to stdout (synchronously, so a crash does not lose the lines before it). */
  readonly destination?: DestinationStream;
}

// Log objects are shallow in practice; the bound keeps a cyclic or huge object from stalling a log call.
const MAX_CONVERSION_DEPTH = 8;

export function createLogger(options: CreateLoggerOptions): Logger {
  const logger = pino(
    {
      level: options.level,
      base: { component: options.component, pid: process.pid, hostname: hostname() },
      timestamp: pino.stdTimeFunctions.isoTime,
      mixin: activeTraceIds,
      formatters: {
        // Level names read better than pino's numbers for people grepping logs.
        level: (label) => ({ level: label }),
        log: (object) => bigintsToStrings(object, 0) as Record<string, unknown>,
      },
    },
    options.destination,
  );
  // pino applies no formatter to child bindings, so convert them on the way in. Children inherit this
  // override through their prototype chain, so grandchildren are covered too.
  const createChild = logger.child;
  logger.child = function childWithDecimalBigints<ChildCustomLevels extends string = never>(
    this: Logger,
    bindings: Bindings,
    childOptions?: ChildLoggerOptions<ChildCustomLevels>,
  ): Logger<ChildCustomLevels> {
    return createChild.call<
      Logger,
      [Bindings, ChildLoggerOptions<ChildCustomLevels> | undefined],
      Logger<ChildCustomLevels>
    >(this, bigintsToStrings(bindings, 0) as Bindings, childOptions);
  };
  return logger;
}

/** Only ids of recorded spans: an unsampled span has ids too, but they lead to no exported trace. */
function activeTraceIds(): { traceId?: string; spanId?: string } {
  const spanContext = trace.getSpan(context.active())?.spanContext();
  if (spanContext === undefined || !isSpanContextValid(spanContext)) return {};
  if ((spanContext.traceFlags & TraceFlags.SAMPLED) === 0) return {};
  return { traceId: spanContext.traceId, spanId: spanContext.spanId };
}

/**
 * Copies plain objects and arrays that contain bigints, sharing everything else. Other objects (errors,
 * buffers, dates) pass through untouched so pino's serializers still see them as they are.
 */
function bigintsToStrings(value: unknown, depth: number): unknown {
  if (typeof value === "bigint") return value.toString();
  if (depth >= MAX_CONVERSION_DEPTH || typeof value !== "object" || value === null) return value;
  if (Array.isArray(value)) {
    const converted = value.map((item) => bigintsToStrings(item, depth + 1));
    return converted.some((item, index) => item !== value[index]) ? converted : value;
  }
  const prototype = Object.getPrototypeOf(value);
  if (prototype !== Object.prototype && prototype !== null) return value;
  let copy: Record<string, unknown> | undefined;
  for (const [key, field] of Object.entries(value)) {
    const converted = bigintsToStrings(field, depth + 1);
    if (converted !== field) {
      copy ??= { ...value };
      copy[key] = converted;
    }
  }
  return copy ?? value;
}
