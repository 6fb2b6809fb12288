/**
 * A unary gRPC call as a promise with a deadline kept by the injected timers rather than gRPC's own deadline,
 * so the deadline follows the same clock as everything else in the client; closing the client (its abort
 * signal) cancels the call too, so nothing outlives the client.
 */
import { type ClientUnaryCall, type ServiceError, status } from "@grpc/grpc-js";
import type { Timers } from "#runtime";

export type UnaryInvoker<Response> = (
  callback: (error: ServiceError | null, response: Response) => void,
) => ClientUnaryCall;

export class UnaryDeadlineError extends Error {
  constructor(
    readonly address: string,
    readonly timeoutMs: number,
  ) {
    super(`no answer from ${address} within ${Math.round(timeoutMs)} ms`);
    this.name = "UnaryDeadlineError";
  }
}

export function callUnary<Response>(options: {
  readonly address: string;
  readonly timeoutMs: number;
  readonly timers: Timers;
  readonly signal: AbortSignal;
  readonly invoke: UnaryInvoker<Response>;
}): Promise<Response> {
  const { signal } = options;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<Response>((resolve, reject) => {
    let timedOut = false;
    let call: ClientUnaryCall | undefined;
    const onAbort = (): void => call?.cancel();
    const timer = options.timers.setTimeout(() => {
      timedOut = true;
      call?.cancel();
    }, options.timeoutMs);
    signal.addEventListener("abort", onAbort, { once: true });
    call = options.invoke((error, response) => {
      timer.cancel();
      signal.removeEventListener("abort", onAbort);
      if (signal.aborted) reject(signal.reason);
      else if (timedOut) reject(new UnaryDeadlineError(options.address, options.timeoutMs));
      else if (error !== null) reject(error);
      else resolve(response);
    });
  });
}

/** Transport failures after which the same request may succeed on another member or after a reconnect. */
export function isRetryableTransportError(error: unknown): boolean {
  if (error instanceof UnaryDeadlineError) return true;
  if (!isServiceError(error)) return false;
  return (
    error.code === status.UNAVAILABLE ||
    error.code === status.DEADLINE_EXCEEDED ||
    error.code === status.CANCELLED
  );
}

export function isServiceError(error: unknown): error is ServiceError {
  return error instanceof Error && typeof (error as Partial<ServiceError>).code === "number";
}
