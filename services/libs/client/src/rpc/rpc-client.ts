/**
 * The store RPC client: every request to a store travels as one command of a BatchCommands stream in that
 * store's connection pool (store-connection-pool.ts). One instance serves every store for the life of the
 * process; a store that restarts on the same address is reconnected to by the same instance.
 */
import type { tikvpb } from "#proto";
import {
  type CommandCase,
  type CommandRequest,
  type CommandResponse,
  commandRequest,
  commandResponse,
} from "./batch-command.ts";
import {
  type ResolvedRpcClientOptions,
  type RpcClientOptions,
  resolveRpcClientOptions,
} from "./rpc-client-options.ts";
import { RpcClientClosedError, RpcTimeoutError, StoreUnavailableError } from "./rpc-errors.ts";
import { type RequestOutcome, RpcMetrics } from "./rpc-metrics.ts";
import { StoreConnectionPool } from "./store-connection-pool.ts";

export interface RpcSendOptions {
  /** The request fails with RpcTimeoutError when no answer came within this many milliseconds. */
  readonly timeoutMs: number;
}

export class RpcClient {
  private readonly options: ResolvedRpcClientOptions;
  private readonly metrics: RpcMetrics | undefined;
  private readonly pools = new Map<string, StoreConnectionPool>();
  private lastRequestId = 0n;
  private closed = false;

  constructor(options: RpcClientOptions = {}) {
    this.options = resolveRpcClientOptions(options);
    this.metrics = options.metrics === undefined ? undefined : new RpcMetrics(options.metrics);
  }

  /**
   * Sends one command to the store at `address` (host:port). Fails with StoreUnavailableError when the
   * store cannot be reached or the stream carrying the request broke, RpcTimeoutError when no answer came
   * in time, RpcQueueFullError when too many requests wait for that store, RpcClientClosedError after close.
   */
  async send(
    address: string,
    request: tikvpb.BatchCommandsRequest_Request,
    options: RpcSendOptions,
  ): Promise<tikvpb.BatchCommandsResponse_Response> {
    if (!(options.timeoutMs > 0 && Number.isFinite(options.timeoutMs))) {
      throw new RangeError(`timeoutMs must be > 0, got ${options.timeoutMs}`);
    }
    if (this.closed) throw new RpcClientClosedError();
    const startedMs = this.options.clock.monotonicMs();
    const command = request.cmd?.$case ?? "none";
    try {
      const response = await this.pool(address).send(request, options.timeoutMs);
      this.observe(command, "ok", startedMs);
      return response;
    } catch (error) {
      this.observe(command, outcomeOf(error), startedMs);
      throw error;
    }
  }

  /** `send` for one command, returning the matching response (RpcProtocolError when the store answers another). */
  async call<Case extends CommandCase>(
    address: string,
    command: Case,
    value: CommandRequest<Case>,
    options: RpcSendOptions,
  ): Promise<CommandResponse<Case>> {
    const response = await this.send(address, commandRequest(command, value), options);
    return commandResponse(address, command, response);
  }

  /** Fails every queued and in-flight request with RpcClientClosedError and closes every stream. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    const error = new RpcClientClosedError();
    for (const pool of this.pools.values()) pool.close(error);
    this.pools.clear();
  }

  private pool(address: string): StoreConnectionPool {
    let pool = this.pools.get(address);
    if (pool === undefined) {
      pool = new StoreConnectionPool({
        address,
        options: this.options,
        nextRequestId: () => ++this.lastRequestId,
        metrics: this.metrics,
        logger: this.options.logger,
      });
      this.pools.set(address, pool);
    }
    return pool;
  }

  private observe(command: string, outcome: RequestOutcome, startedMs: number): void {
    this.metrics?.observeRequest(command, outcome, (this.options.clock.monotonicMs() - startedMs) / 1000);
  }
}

function outcomeOf(error: unknown): RequestOutcome {
  if (error instanceof RpcTimeoutError) return "timeout";
  if (error instanceof StoreUnavailableError) return "unavailable";
  return "rejected";
}
