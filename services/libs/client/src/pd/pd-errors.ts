/**
 * One class per way a pd call fails, each carrying what an operator needs to act on it: the endpoints
 * tried, the cluster ids involved, the pd error type.
 */
import { pdpb } from "#proto";

export class PdError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** No pd member answered usefully before the deadline (connection refused, no leader elected, timeouts). */
export class PdUnavailableError extends PdError {
  readonly endpoints: readonly string[];
  readonly lastCause: unknown;

  constructor(options: {
    readonly operation: string;
    readonly endpoints: readonly string[];
    readonly lastCause: unknown;
  }) {
    const tried = options.endpoints.length > 0 ? options.endpoints.join(", ") : "none";
    super(
      `pd unavailable for ${options.operation}: tried ${tried}; last error: ${describeCause(options.lastCause)}`,
      {
        cause: options.lastCause,
      },
    );
    this.endpoints = options.endpoints;
    this.lastCause = options.lastCause;
  }
}

/** The pd answering belongs to another cluster than the one this client first talked to. */
export class PdClusterMismatchError extends PdError {
  readonly expectedClusterId: bigint;
  readonly actualClusterId: bigint;
  readonly endpoint: string;

  constructor(options: {
    readonly expectedClusterId: bigint;
    readonly actualClusterId: bigint;
    readonly endpoint: string;
  }) {
    super(
      `pd at ${options.endpoint} belongs to cluster ${options.actualClusterId}, expected cluster ${options.expectedClusterId}`,
    );
    this.expectedClusterId = options.expectedClusterId;
    this.actualClusterId = options.actualClusterId;
    this.endpoint = options.endpoint;
  }
}

/** pd answered with an error in the response header (other than NOT_LEADER, which the client follows). */
export class PdServerError extends PdError {
  readonly errorType: pdpb.ErrorType;
  readonly operation: string;
  readonly endpoint: string;

  constructor(options: {
    readonly operation: string;
    readonly endpoint: string;
    readonly errorType: pdpb.ErrorType;
    readonly detail: string;
  }) {
    super(
      `pd ${options.operation} at ${options.endpoint} failed with ${pdpb.errorTypeToJSON(options.errorType)}: ${options.detail}`,
    );
    this.errorType = options.errorType;
    this.operation = options.operation;
    this.endpoint = options.endpoint;
  }
}

/** pd answered with something that breaks the protocol (a TSO batch of the wrong size, a timestamp going back). */
export class PdProtocolError extends PdError {
  readonly endpoint: string;

  constructor(endpoint: string, detail: string) {
    super(`pd at ${endpoint} broke the protocol: ${detail}`);
    this.endpoint = endpoint;
  }
}

/** A pd member answered the members call but knows no leader (an election is under way). */
export class PdNoLeaderError extends PdError {
  readonly endpoint: string;

  constructor(endpoint: string) {
    super(`${endpoint} knows no pd leader yet`);
    this.endpoint = endpoint;
  }
}

/** pd ended a long-lived stream (TSO, region heartbeats); the client reopens it. */
export class PdStreamEndedError extends PdError {
  readonly endpoint: string;
  readonly stream: string;

  constructor(options: { readonly endpoint: string; readonly stream: string; readonly status?: string }) {
    const suffix = options.status === undefined ? "" : `: ${options.status}`;
    super(`pd at ${options.endpoint} ended the ${options.stream} stream${suffix}`);
    this.endpoint = options.endpoint;
    this.stream = options.stream;
  }
}

/** A TSO stream left its oldest request unanswered too long; it is replaced as if broken. */
export class TsoStreamStalledError extends PdError {
  readonly endpoint: string;
  readonly stallTimeoutMs: number;

  constructor(endpoint: string, stallTimeoutMs: number) {
    super(`no TSO answer from ${endpoint} for ${stallTimeoutMs} ms`);
    this.endpoint = endpoint;
    this.stallTimeoutMs = stallTimeoutMs;
  }
}

/** A pd call's deadline passed before it could make a single attempt. */
export class PdDeadlineExceededError extends PdError {
  readonly operation: string;
  readonly timeoutMs: number;

  constructor(operation: string, timeoutMs: number) {
    super(`pd ${operation}: deadline of ${timeoutMs} ms passed before any attempt`);
    this.operation = operation;
    this.timeoutMs = timeoutMs;
  }
}

/** A timestamp request was not answered within its deadline. */
export class TsoDeadlineExceededError extends PdError {
  readonly timeoutMs: number;
  /** Why no answer came, when the client knows (stream errors, unreachable members). */
  readonly lastCause: unknown;

  constructor(timeoutMs: number, lastCause: unknown) {
    const reason = lastCause === undefined ? "" : `; last error: ${describeCause(lastCause)}`;
    super(`no timestamp from pd within ${timeoutMs} ms${reason}`, { cause: lastCause });
    this.timeoutMs = timeoutMs;
    this.lastCause = lastCause;
  }
}

/** More timestamp requests are waiting than the client's bound allows; the caller should back off. */
export class TsoQueueFullError extends PdError {
  readonly maxPendingRequests: number;

  constructor(maxPendingRequests: number) {
    super(`too many timestamp requests waiting (bound ${maxPendingRequests}); back off and retry`);
    this.maxPendingRequests = maxPendingRequests;
  }
}

export class PdClientClosedError extends PdError {
  constructor(operation: string) {
    super(`pd client is closed; cannot ${operation}`);
  }
}

export function describeCause(cause: unknown): string {
  if (cause instanceof Error) return cause.message;
  return cause === undefined ? "unknown" : String(cause);
}
