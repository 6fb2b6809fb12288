/**
 * What a failed call means for the checkers. Reads change nothing, so a failed read is a definite "fail";
 * a write or swap that failed may still have been applied (its request may have reached the leader before
 * the reply was lost), so it is "unknown" unless the client refused it before sending.
 */
import { RawKvArgumentError } from "#client";
import type { ErrorClassifier } from "../history/recorder.ts";

/** Thrown by a workload to mark an outcome it knows to be definite (the operation had no effect). */
export class DefiniteFailure extends Error {
  constructor(readonly causeError: unknown) {
    super(`definite failure: ${causeError instanceof Error ? causeError.message : String(causeError)}`);
    this.name = "DefiniteFailure";
  }
}

/** A compare-and-swap answered "not swapped" after a retry: an earlier attempt may have swapped. */
export class AmbiguousSwapError extends Error {
  constructor(readonly attempts: number) {
    super(
      `compare-and-swap answered "not swapped" after ${attempts} attempts; an earlier one may have applied`,
    );
    this.name = "AmbiguousSwapError";
  }
}

export const classifyClientError: ErrorClassifier = (error) =>
  error instanceof DefiniteFailure || error instanceof RawKvArgumentError ? "fail" : "unknown";

/** Runs a read-only call, turning any error into a definite failure. */
export async function readOnly<Result>(call: () => Promise<Result>): Promise<Result> {
  try {
    return await call();
  } catch (error) {
    throw new DefiniteFailure(error);
  }
}
