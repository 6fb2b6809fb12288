/**
 * Unary calls to the pd leader: find the leader, send, follow a NOT_LEADER hint at once, and after a transport
 * failure forget the leader, back off and rediscover — all within the call's deadline and a bounded number
 * of attempts. pd header errors other than NOT_LEADER are final and surface as typed errors.
 */
import { pdpb } from "#proto";
import { type Clock, InvariantError, type Random, sleep, type Timers } from "#runtime";
import { ReconnectBackoff, type ReconnectBackoffPolicy } from "../backoff/reconnect-backoff.ts";
import type { PdChannels } from "./grpc-channels.ts";
import type { MemberDiscovery } from "./member-discovery.ts";
import {
  PdClientClosedError,
  PdClusterMismatchError,
  PdDeadlineExceededError,
  PdServerError,
  PdUnavailableError,
} from "./pd-errors.ts";
import { callUnary, isRetryableTransportError, type UnaryInvoker } from "./unary-call.ts";

export interface LeaderRpcOptions {
  readonly discovery: MemberDiscovery;
  readonly channels: PdChannels;
  readonly clock: Clock;
  readonly timers: Timers;
  readonly random: Random;
  readonly backoff: ReconnectBackoffPolicy;
  readonly senderId: bigint;
  /** Bound on attempts per call, on top of its deadline, so hint ping-pong between members cannot loop. */
  readonly maxAttempts: number;
  /** Aborted when the client closes, so backoff sleeps end at once. */
  readonly closeSignal: AbortSignal;
}

export interface HeaderedResponse {
  readonly header?: pdpb.ResponseHeader | undefined;
}

export type LeaderInvoker<Response> = (
  client: pdpb.PDClient,
  header: pdpb.RequestHeader,
) => UnaryInvoker<Response>;

export class LeaderRpc {
  constructor(private readonly options: LeaderRpcOptions) {}

  async call<Response extends HeaderedResponse>(
    operation: string,
    timeoutMs: number,
    invoke: LeaderInvoker<Response>,
  ): Promise<Response> {
    const { clock, discovery } = this.options;
    const deadlineAtMs = clock.monotonicMs() + timeoutMs;
    const backoff = new ReconnectBackoff(this.options.backoff, this.options.random);
    const tried = new Set<string>();
    let lastCause: unknown = new PdDeadlineExceededError(operation, timeoutMs);
    for (let attempt = 0; attempt < this.options.maxAttempts; attempt++) {
      this.throwIfClosed(operation);
      const remainingMs = deadlineAtMs - clock.monotonicMs();
      if (remainingMs <= 0) break;
      let address: string;
      try {
        address = await discovery.leaderOrDiscover(deadlineAtMs);
      } catch (error) {
        if (error instanceof PdClusterMismatchError || error instanceof PdClientClosedError) throw error;
        if (error instanceof PdUnavailableError) for (const endpoint of error.endpoints) tried.add(endpoint);
        lastCause = error;
        await this.pause(backoff, deadlineAtMs);
        continue;
      }
      tried.add(address);
      const outcome = await this.attempt(operation, address, deadlineAtMs, invoke);
      if (outcome.kind === "done") return outcome.response;
      lastCause = outcome.cause;
      if (outcome.kind === "retry-after-backoff") await this.pause(backoff, deadlineAtMs);
    }
    this.throwIfClosed(operation);
    throw new PdUnavailableError({ operation, endpoints: [...tried], lastCause });
  }

  private async attempt<Response extends HeaderedResponse>(
    operation: string,
    address: string,
    deadlineAtMs: number,
    invoke: LeaderInvoker<Response>,
  ): Promise<AttemptOutcome<Response>> {
    const { discovery } = this.options;
    let response: Response;
    try {
      const header = { clusterId: discovery.clusterId, senderId: this.options.senderId };
      response = await callUnary({
        address,
        timeoutMs: deadlineAtMs - this.options.clock.monotonicMs(),
        timers: this.options.timers,
        signal: this.options.closeSignal,
        invoke: invoke(this.options.channels.get(address), header),
      });
    } catch (error) {
      if (error instanceof InvariantError) throw error;
      this.throwIfClosed(operation);
      if (!isRetryableTransportError(error)) {
        throw new PdServerError({
          operation,
          endpoint: address,
          errorType: pdpb.ErrorType.UNKNOWN,
          detail: describe(error),
        });
      }
      discovery.leaderFailed(address);
      return { kind: "retry-after-backoff", cause: error };
    }
    const error = response.header?.error;
    if (error === undefined || error.type === pdpb.ErrorType.OK) return { kind: "done", response };
    const serverError = new PdServerError({
      operation,
      endpoint: address,
      errorType: error.type,
      detail: error.message,
    });
    if (error.type === pdpb.ErrorType.NOT_LEADER) {
      if (discovery.followLeaderHint(error.leader, address)) return { kind: "retry-now", cause: serverError };
      discovery.leaderFailed(address);
      return { kind: "retry-after-backoff", cause: serverError };
    }
    if (error.type === pdpb.ErrorType.CLUSTER_MISMATCH) {
      throw new PdClusterMismatchError({
        expectedClusterId: discovery.clusterId,
        actualClusterId: response.header?.clusterId ?? 0n,
        endpoint: address,
      });
    }
    throw serverError;
  }

  private async pause(backoff: ReconnectBackoff, deadlineAtMs: number): Promise<void> {
    const delayMs = Math.min(backoff.nextDelayMs(), deadlineAtMs - this.options.clock.monotonicMs());
    if (delayMs <= 0) return;
    try {
      await sleep(delayMs, this.options.timers, this.options.closeSignal);
    } catch {
      // Closing aborts the sleep; the loop reports the close.
    }
  }

  private throwIfClosed(operation: string): void {
    if (this.options.closeSignal.aborted) throw new PdClientClosedError(operation);
  }
}

type AttemptOutcome<Response> =
  | { readonly kind: "done"; readonly response: Response }
  | { readonly kind: "retry-now" | "retry-after-backoff"; readonly cause: unknown };

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
