/**
 * Every request to one store goes through its pool: a bounded queue and N pooled connections. Requests
 * queue until the end of the event-loop turn (or `maxBatchWaitMs`), then leave in messages of up to
 * `maxBatchSize`, each on the next connection (round robin) with room under its in-flight bound.
 *
 * Requests never wait on a store that is known to be down: when every connection is resting after a break,
 * queued requests fail at once with StoreUnavailableError so the caller can try another peer. A request
 * that finds every connection full waits in the queue, for at most its own deadline.
 */
import type { Logger } from "#observability";
import type { tikvpb } from "#proto";
import { InvariantError } from "#runtime";
import { PendingRequest, type PendingRequestOwner } from "./pending-request.ts";
import type { ResolvedRpcClientOptions } from "./rpc-client-options.ts";
import { RpcQueueFullError, StoreUnavailableError } from "./rpc-errors.ts";
import type { RpcMetrics } from "./rpc-metrics.ts";
import { StoreConnection, type StoreConnectionListener } from "./store-connection.ts";

export interface StoreConnectionPoolOptions {
  readonly address: string;
  readonly options: ResolvedRpcClientOptions;
  /** Request ids, unique across the client, so a misrouted answer can never match another request. */
  readonly nextRequestId: () => bigint;
  readonly metrics?: RpcMetrics;
  readonly logger?: Logger;
}

export class StoreConnectionPool implements PendingRequestOwner, StoreConnectionListener {
  readonly address: string;
  /** Insertion-ordered, so iteration is FIFO and a timed-out request leaves in O(1). */
  private readonly queue = new Map<bigint, PendingRequest>();
  private readonly connections: readonly StoreConnection[];
  private readonly options: ResolvedRpcClientOptions;
  private cursor = 0;
  private cancelScheduledFlush: (() => void) | undefined;
  private closed = false;

  constructor(private readonly poolOptions: StoreConnectionPoolOptions) {
    this.address = poolOptions.address;
    this.options = poolOptions.options;
    const logger = poolOptions.logger?.child({ address: poolOptions.address });
    this.connections = Array.from(
      { length: this.options.connectionsPerStore },
      () => new StoreConnection(this.address, this.options, this, poolOptions.metrics, logger),
    );
  }

  send(
    request: tikvpb.BatchCommandsRequest_Request,
    timeoutMs: number,
  ): Promise<tikvpb.BatchCommandsResponse_Response> {
    if (this.queue.size >= this.options.maxPendingRequestsPerStore) {
      return Promise.reject(new RpcQueueFullError(this.address, this.options.maxPendingRequestsPerStore));
    }
    return new Promise((resolve, reject) => {
      const pending = new PendingRequest(this.poolOptions.nextRequestId(), this.address, request, {
        resolve,
        reject,
      });
      pending.owner = this;
      this.queue.set(pending.id, pending);
      pending.armDeadline(this.options.timers, timeoutMs);
      if (this.queue.size >= this.options.maxBatchSize) this.flush();
      else this.scheduleFlush();
    });
  }

  forget(request: PendingRequest): void {
    this.queue.delete(request.id);
  }

  /** Fails queued and in-flight requests with `error` and closes every stream and timer. */
  close(error: Error): void {
    if (this.closed) return;
    this.closed = true;
    this.cancelScheduledFlush?.();
    this.cancelScheduledFlush = undefined;
    const queued = [...this.queue.values()];
    this.queue.clear();
    for (const pending of queued) pending.reject(error);
    for (const connection of this.connections) connection.close(error);
  }

  onAvailable(): void {
    if (this.queue.size > 0) this.scheduleFlush();
  }

  onBroken(): void {
    if (this.queue.size > 0) this.scheduleFlush();
  }

  private scheduleFlush(): void {
    if (this.closed || this.cancelScheduledFlush !== undefined) return;
    if (this.options.maxBatchWaitMs === 0) {
      // setImmediate runs after the I/O callbacks of this turn: every request issued by this burst of
      // callbacks rides in the same message, without waiting on the clock.
      const immediate = setImmediate(() => this.flush());
      this.cancelScheduledFlush = () => clearImmediate(immediate);
    } else {
      const timer = this.options.timers.setTimeout(() => this.flush(), this.options.maxBatchWaitMs);
      this.cancelScheduledFlush = () => timer.cancel();
    }
  }

  private flush(): void {
    this.cancelScheduledFlush?.();
    this.cancelScheduledFlush = undefined;
    // Each round sends at least one request, so this ends within queue-size rounds.
    while (this.queue.size > 0 && !this.closed) {
      const connection = this.nextConnectionWithRoom();
      if (connection === undefined) {
        this.failQueuedIfAllResting();
        return;
      }
      this.sendOn(connection, this.takeBatch(Math.min(this.options.maxBatchSize, connection.capacity)));
    }
  }

  private sendOn(connection: StoreConnection, batch: readonly PendingRequest[]): void {
    try {
      connection.send(batch);
    } catch (error) {
      // gRPC refuses to open a channel to an address it cannot parse: the store is unusable, another peer
      // may serve. A bug is not a store failure: its requests fail with it, so nobody retries around it.
      const failure =
        error instanceof InvariantError
          ? error
          : new StoreUnavailableError({
              address: this.address,
              reason: "cannot open a stream",
              cause: error,
              neverSent: true,
            });
      for (const pending of batch) pending.reject(failure);
    }
  }

  private nextConnectionWithRoom(): StoreConnection | undefined {
    const count = this.connections.length;
    for (let step = 0; step < count; step++) {
      const index = (this.cursor + step) % count;
      const connection = this.connections[index]!;
      if (connection.capacity > 0) {
        this.cursor = (index + 1) % count;
        return connection;
      }
    }
    return undefined;
  }

  private takeBatch(size: number): PendingRequest[] {
    const batch: PendingRequest[] = [];
    for (const pending of this.queue.values()) {
      if (batch.length === size) break;
      batch.push(pending);
    }
    for (const pending of batch) this.queue.delete(pending.id);
    this.poolOptions.metrics?.observeBatch(batch.length);
    return batch;
  }

  private failQueuedIfAllResting(): void {
    const causes = this.connections.map((connection) => connection.restingCause);
    if (causes.some((cause) => cause === undefined)) return;
    const error = new StoreUnavailableError({
      address: this.address,
      reason: "every stream to the store broke and is waiting to reconnect",
      cause: causes[0],
      neverSent: true,
    });
    const queued = [...this.queue.values()];
    this.queue.clear();
    for (const pending of queued) pending.reject(error);
  }
}
