/**
 * How every client request handler runs one request: time it, turn any failure into the response's own
 * error form (a region error into `region_error`, the rest as the handler's response type says), log
 * failures that are not the client's doing, and record the outcome. A handler built on it never rejects.
 */
import type { Logger } from "#observability";
import type { errorpb, kvrpcpb } from "#proto";
import { type Clock, InvariantError } from "#runtime";
import { toRegionErrorProto } from "./region-errors.ts";
import { InvalidRequestError } from "./request-validation.ts";

export type RequestOutcome = "ok" | "key_error" | "region_error" | "error";

export interface ResponseType<Response> {
  fromPartial(object: kvrpcpb.DeepPartial<Response>): Response;
}

export interface RequestRunnerOptions {
  readonly clock: Clock;
  readonly logger: Logger;
  record(type: string, outcome: RequestOutcome, seconds: number): void;
}

export interface FailedRequest<Response> {
  readonly partial: kvrpcpb.DeepPartial<Response>;
  readonly outcome: RequestOutcome;
}

export interface RequestRun<Response> {
  /** Metric label, e.g. "raw_get". */
  readonly type: string;
  readonly responseType: ResponseType<Response>;
  readonly work: () => Promise<kvrpcpb.DeepPartial<Response>>;
  /** The answer to a failure that is not a region error (`regionError` is set when it is one). */
  readonly failure: (regionError: errorpb.Error | undefined, error: unknown) => FailedRequest<Response>;
  /** The outcome of an answer `work` returned; "ok" unless given. */
  readonly outcomeOf?: (partial: kvrpcpb.DeepPartial<Response>) => RequestOutcome;
}

export async function runRequest<Response>(
  options: RequestRunnerOptions,
  run: RequestRun<Response>,
): Promise<Response> {
  const startedMs = options.clock.monotonicMs();
  let outcome: RequestOutcome;
  let partial: kvrpcpb.DeepPartial<Response>;
  try {
    partial = await run.work();
    outcome = run.outcomeOf?.(partial) ?? "ok";
  } catch (error) {
    const regionError = toRegionErrorProto(error);
    ({ partial, outcome } = run.failure(regionError, error));
    if (error instanceof InvariantError) {
      options.logger.error({ err: error, type: run.type }, "request hit a bug in the store");
    } else if (outcome === "error" && !(error instanceof InvalidRequestError)) {
      options.logger.warn({ err: error, type: run.type }, "request failed unexpectedly");
    }
  }
  options.record(run.type, outcome, (options.clock.monotonicMs() - startedMs) / 1000);
  return run.responseType.fromPartial(partial);
}
