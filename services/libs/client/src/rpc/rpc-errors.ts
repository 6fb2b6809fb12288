/**
 * One class per way a store RPC fails. The split that matters to callers: `StoreUnavailableError` means the
 * store could not be reached or its stream broke (the region cache marks the store failed and tries another
 * peer), while `RpcTimeoutError` only means this request ran out of time (the store may be alive but slow, so
 * nothing is marked failed — seed 000's stalls came from treating deadlines like dead connections).
 */

export class RpcError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/**
 * The store refused the connection, the stream to it broke, or every stream to it is waiting to reconnect.
 * A request that was already sent may or may not have run on the store.
 */
export class StoreUnavailableError extends RpcError {
  readonly address: string;
  readonly reason: string;
  /**
   * False only when the request provably never reached the store: no stream could take it, or its
   * stream's connection never came up.
   */
  readonly mayHaveRun: boolean;

  constructor(options: {
    readonly address: string;
    readonly reason: string;
    readonly cause?: unknown;
    readonly neverSent?: boolean;
  }) {
    const detail = options.cause === undefined ? "" : `: ${describeCause(options.cause)}`;
    super(`store ${options.address} unavailable (${options.reason})${detail}`, { cause: options.cause });
    this.address = options.address;
    this.reason = options.reason;
    this.mayHaveRun = options.neverSent !== true;
  }
}

/**
 * A write may or may not have run: its stream broke or its deadline passed after it was sent, or the
 * store answered StaleCommand (it stopped waiting for the proposal, which may still commit). Resending
 * could apply it twice, the second time over newer writes (or compare a swap against its own result),
 * so the caller gets this instead and must treat the outcome as unknown.
 */
export class UnknownOutcomeError extends RpcError {
  constructor(
    readonly command: string,
    cause: RpcError,
  ) {
    super(`${command}: the outcome is unknown (${cause.message}); it may or may not have been applied`, {
      cause,
    });
  }
}

/** No answer within the request's deadline; the stream and the store are not assumed dead. */
export class RpcTimeoutError extends RpcError {
  readonly address: string;
  readonly command: string;
  readonly timeoutMs: number;
  /** Whether the request had been written to a stream (if so, the store may still run it). */
  readonly sent: boolean;

  constructor(options: {
    readonly address: string;
    readonly command: string;
    readonly timeoutMs: number;
    readonly sent: boolean;
  }) {
    const where = options.sent ? "after it was sent" : "before a stream had room for it";
    super(`${options.command} to store ${options.address} timed out after ${options.timeoutMs} ms, ${where}`);
    this.address = options.address;
    this.command = options.command;
    this.timeoutMs = options.timeoutMs;
    this.sent = options.sent;
  }
}

/** More requests are queued for one store than the pool's bound allows; back off and retry. */
export class RpcQueueFullError extends RpcError {
  readonly address: string;
  readonly maxPendingRequests: number;

  constructor(address: string, maxPendingRequests: number) {
    super(`too many requests queued for store ${address} (bound ${maxPendingRequests}); back off and retry`);
    this.address = address;
    this.maxPendingRequests = maxPendingRequests;
  }
}

/** The store answered with something that breaks the protocol (a response of the wrong command). */
export class RpcProtocolError extends RpcError {
  readonly address: string;

  constructor(address: string, detail: string) {
    super(`store ${address} broke the BatchCommands protocol: ${detail}`);
    this.address = address;
  }
}

export class RpcClientClosedError extends RpcError {
  constructor() {
    super("store RPC client is closed");
  }
}

export function describeCause(cause: unknown): string {
  if (cause instanceof Error) return cause.message;
  return cause === undefined ? "unknown" : String(cause);
}
