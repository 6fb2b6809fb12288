/**
 * One of a store's pooled connections: at most one live BatchCommands stream at a time, opened on demand,
 * closed after idling, and rested after a break before it may open another.
 *
 *   disconnected ──send──▶ connected ──idle timeout (nothing in flight)──▶ disconnected
 *                              │
 *                              └──stream breaks──▶ resting ──reconnect delay──▶ disconnected
 *
 * Seed 000's recycle races (a send blocked on a loop that already exited, a channel closed twice, a request
 * stranded on a recycled connection) cannot happen here: every transition runs synchronously on the one
 * event-loop thread, the idle timer recycles only a stream with nothing in flight, `send` cancels that timer
 * before writing, and events from a stream that is no longer current are ignored.
 */
import type { Logger } from "#observability";
import { InvariantError, type TimerHandle } from "#runtime";
import { ReconnectBackoff } from "../backoff/reconnect-backoff.ts";
import { BatchStream, type BatchStreamListener } from "./batch-stream.ts";
import type { PendingRequest } from "./pending-request.ts";
import type { ResolvedRpcClientOptions } from "./rpc-client-options.ts";
import { StoreUnavailableError } from "./rpc-errors.ts";
import type { RpcMetrics } from "./rpc-metrics.ts";

export interface StoreConnectionListener {
  /** The connection can take requests again (answers freed room, or its rest ended). */
  onAvailable(): void;
  /** The connection's stream broke and it is resting. */
  onBroken(): void;
}

type ConnectionState =
  | { readonly kind: "disconnected" }
  | { readonly kind: "connected"; readonly stream: BatchStream }
  | { readonly kind: "resting"; readonly cause: StoreUnavailableError; readonly timer: TimerHandle };

export class StoreConnection implements BatchStreamListener {
  private state: ConnectionState = { kind: "disconnected" };
  private readonly reconnectBackoff: ReconnectBackoff;
  private idleTimer: TimerHandle | undefined;
  private closed = false;

  constructor(
    private readonly address: string,
    private readonly options: ResolvedRpcClientOptions,
    private readonly listener: StoreConnectionListener,
    private readonly metrics: RpcMetrics | undefined,
    private readonly logger: Logger | undefined,
  ) {
    this.reconnectBackoff = new ReconnectBackoff(options.reconnect, options.random);
  }

  /** How many more requests this connection takes right now: 0 while resting, closed or full. */
  get capacity(): number {
    if (this.closed || this.state.kind === "resting") return 0;
    if (this.state.kind === "disconnected") return this.options.maxInFlightPerStream;
    return this.options.maxInFlightPerStream - this.state.stream.inFlightCount;
  }

  /** Why the connection is resting, or undefined when it is not. */
  get restingCause(): StoreUnavailableError | undefined {
    return this.state.kind === "resting" ? this.state.cause : undefined;
  }

  /** Sends on the live stream, opening one first if needed. The batch must fit in `capacity`. */
  send(batch: readonly PendingRequest[]): void {
    if (batch.length > this.capacity) {
      throw new InvariantError(`batch of ${batch.length} exceeds connection capacity ${this.capacity}`);
    }
    this.idleTimer?.cancel();
    this.idleTimer = undefined;
    this.connectedStream().send(batch);
  }

  close(error: Error): void {
    this.closed = true;
    this.idleTimer?.cancel();
    this.idleTimer = undefined;
    if (this.state.kind === "connected") this.state.stream.close(error);
    if (this.state.kind === "resting") this.state.timer.cancel();
    this.state = { kind: "disconnected" };
  }

  onCapacityFreed(stream: BatchStream, answered: boolean): void {
    if (!this.isCurrent(stream)) return;
    if (answered) this.reconnectBackoff.reset();
    if (stream.inFlightCount === 0) this.armIdleTimer(stream);
    this.listener.onAvailable();
  }

  onBroken(stream: BatchStream, error: StoreUnavailableError): void {
    if (!this.isCurrent(stream)) return;
    this.idleTimer?.cancel();
    this.idleTimer = undefined;
    const delayMs = this.reconnectBackoff.nextDelayMs();
    const timer = this.options.timers.setTimeout(() => this.endRest(), delayMs);
    this.state = { kind: "resting", cause: error, timer };
    this.metrics?.countStream("broken");
    this.logger?.warn(
      { address: this.address, err: error, reconnectDelayMs: delayMs },
      "BatchCommands stream broke; failed its in-flight requests",
    );
    this.listener.onBroken();
  }

  private connectedStream(): BatchStream {
    if (this.state.kind === "connected") return this.state.stream;
    if (this.state.kind === "resting")
      throw new InvariantError(`send on a resting connection to ${this.address}`);
    const stream = new BatchStream(this.address, this.options.maxMessageBytes, this);
    this.state = { kind: "connected", stream };
    this.metrics?.countStream("opened");
    return stream;
  }

  private isCurrent(stream: BatchStream): boolean {
    return !this.closed && this.state.kind === "connected" && this.state.stream === stream;
  }

  private armIdleTimer(stream: BatchStream): void {
    this.idleTimer?.cancel();
    this.idleTimer = this.options.timers.setTimeout(
      () => this.recycleIfIdle(stream),
      this.options.idleTimeoutMs,
    );
  }

  private recycleIfIdle(stream: BatchStream): void {
    this.idleTimer = undefined;
    if (!this.isCurrent(stream) || stream.inFlightCount > 0) return;
    this.state = { kind: "disconnected" };
    // Nothing is in flight, so closing fails no request; the error only documents why the stream ended.
    stream.close(new StoreUnavailableError({ address: this.address, reason: "idle stream recycled" }));
    this.metrics?.countStream("recycled");
    this.logger?.debug({ address: this.address }, "recycled idle BatchCommands stream");
  }

  private endRest(): void {
    if (this.closed || this.state.kind !== "resting") return;
    this.state = { kind: "disconnected" };
    this.listener.onAvailable();
  }
}
