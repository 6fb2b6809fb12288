/**
 * Raft traffic from this store to the others. Per destination store there is one long-lived client
 * stream (`tikvpb.BatchRaft`); each `send` — one per store-loop turn and destination — becomes one
 * BatchRaft item (split only when it exceeds `maxBatchBytes`), so a turn that touched a thousand regions
 * costs one write per peer store, not a thousand.
 *
 * Failure handling follows TiKV: raft tolerates loss, so nothing is retried here. When a stream cannot
 * be opened or breaks, the queued messages are dropped, every region that had messages on it is reported
 * unreachable (its leader falls back to probing that follower), the cached address is forgotten (the
 * store may have restarted elsewhere) and the stream is reopened after an exponential, jittered backoff.
 * Each destination's queue is bounded; when it is full the OLDEST message is dropped, since newer ones
 * carry newer terms and commit indexes.
 */
import type { ClientWritableStream } from "@grpc/grpc-js";
import { checkReconnectBackoffPolicy, ReconnectBackoff, type ReconnectBackoffPolicy } from "#client";
import type { Logger } from "#observability";
import type { raft_serverpb, tikvpb } from "#proto";
import {
  type Clock,
  type Random,
  sleep,
  TaskScope,
  type TimerHandle,
  type Timers,
  untilAborted,
} from "#runtime";
import { createTikvClient } from "./grpc-options.ts";
import type { RaftTransportMetrics } from "./server-metrics.ts";
import { SnapshotSendError, sendSnapshotChunks } from "./snapshot-stream.ts";
import type { StoreResolver } from "./store-resolver.ts";
import { type TransportFilter, TransportFilterChain } from "./transport-filter.ts";

/** What snapshots in flight and backoff sleeps fail with when the transport closes under them. */
export class RaftTransportClosedError extends Error {
  override readonly name = "RaftTransportClosedError";

  constructor() {
    super("the raft transport is closed");
  }
}

/** The destination store answered the raft stream (cleanly) instead of keeping it open. */
export class RaftStreamEndedError extends Error {
  override readonly name = "RaftStreamEndedError";

  constructor(readonly toStoreId: bigint) {
    super(`store ${toStoreId} ended the raft stream`);
  }
}

/** Where the transport reports what it could not deliver; the store feeds it back into raft. */
export interface TransportReporter {
  reportUnreachable(regionId: bigint, toPeerId: bigint): void;
}

export interface GrpcRaftTransportOptions {
  readonly resolver: StoreResolver;
  /** Shared with this store's raft receiver, so one `addFilter` covers both directions. */
  readonly filters?: TransportFilterChain;
  readonly maxQueuedMessages: number;
  readonly maxBatchBytes: number;
  readonly maxMessageBytes: number;
  readonly backoff: ReconnectBackoffPolicy;
  /** How long opening a stream may take before the store counts as unreachable [2 s]. */
  readonly connectTimeoutMs?: number;
  /** Snapshots sent at the same time; more are refused and the raftstore retries later [4]. */
  readonly maxConcurrentSnapshotSends?: number;
  readonly clock: Clock;
  readonly timers: Timers;
  readonly random: Random;
  readonly logger: Logger;
  readonly metrics: RaftTransportMetrics;
}

const DEFAULT_CONNECT_TIMEOUT_MS = 2_000;
const DEFAULT_MAX_CONCURRENT_SNAPSHOT_SENDS = 4;
// Protobuf framing per message and per entry, over-estimated so batches stay under their byte bound.
const MESSAGE_OVERHEAD_BYTES = 96;
const ENTRY_OVERHEAD_BYTES = 24;

export class GrpcRaftTransport {
  readonly filters: TransportFilterChain;
  private reporter: TransportReporter | undefined;
  private readonly connections = new Map<bigint, StoreConnection>();
  private readonly delayed = new Set<TimerHandle>();
  private readonly closeController = new AbortController();
  /** Connection attempts: started by sends that do not wait for them, so owned here until close. */
  private readonly tasks: TaskScope;
  private snapshotSends = 0;

  constructor(private readonly options: GrpcRaftTransportOptions) {
    checkReconnectBackoffPolicy(options.backoff);
    this.filters = options.filters ?? new TransportFilterChain();
    this.tasks = new TaskScope({
      name: "raft transport",
      onError: (error, task) => options.logger.error({ err: error, task }, "raft transport task failed"),
    });
  }

  /** The store is opened after its transport, so it is attached here once it exists. */
  attach(reporter: TransportReporter): void {
    this.reporter = reporter;
  }

  addFilter(filter: TransportFilter): void {
    this.filters.add(filter);
  }

  clearFilters(): void {
    this.filters.clear();
  }

  send(storeId: bigint, messages: readonly raft_serverpb.RaftMessage[]): void {
    const { metrics } = this.options;
    if (this.closeController.signal.aborted) {
      metrics.messagesDropped.inc({ reason: "closed" }, messages.length);
      return;
    }
    const passed: raft_serverpb.RaftMessage[] = [];
    for (const message of messages) {
      const verdict = this.filters.decide(message, "send");
      if (verdict.kind === "deliver") passed.push(message);
      else if (verdict.kind === "drop") metrics.messagesDropped.inc({ reason: "filter" });
      else this.deliverLater(storeId, message, verdict.delayMs);
    }
    if (passed.length > 0) this.connection(storeId).enqueue(passed);
  }

  /**
   * Streams a snapshot on its own call (a big snapshot must not hold up the heartbeats on the raft
   * stream). Resolves once the other store accepted it whole; rejects with SnapshotSendError otherwise.
   */
  async sendSnapshot(
    storeId: bigint,
    message: raft_serverpb.RaftMessage,
    chunks: AsyncIterable<Uint8Array>,
  ): Promise<void> {
    const { metrics, resolver } = this.options;
    try {
      await this.admitSnapshot(storeId, message, chunks);
      this.snapshotSends++;
      try {
        const address = await resolver.resolve(storeId);
        await this.streamSnapshot(address, message, chunks);
      } finally {
        this.snapshotSends--;
      }
      metrics.snapshots.inc({ direction: "send", outcome: "ok" });
    } catch (error) {
      metrics.snapshots.inc({ direction: "send", outcome: "failed" });
      resolver.invalidate(storeId);
      throw error instanceof SnapshotSendError
        ? error
        : new SnapshotSendError(message.regionId, storeId, String(error), { cause: error });
    }
  }

  /**
   * Ends every stream, cancels snapshots and connection attempts in flight, and resolves once those
   * attempts have ended; later sends are dropped. Idempotent.
   */
  async close(): Promise<void> {
    if (!this.closeController.signal.aborted) {
      this.closeController.abort(new RaftTransportClosedError());
      for (const timer of this.delayed) timer.cancel();
      this.delayed.clear();
      for (const connection of this.connections.values()) connection.close();
      this.connections.clear();
    }
    await this.tasks.close();
  }

  private async admitSnapshot(
    storeId: bigint,
    message: raft_serverpb.RaftMessage,
    chunks: AsyncIterable<Uint8Array>,
  ): Promise<void> {
    const limit = this.options.maxConcurrentSnapshotSends ?? DEFAULT_MAX_CONCURRENT_SNAPSHOT_SENDS;
    const verdict = this.filters.decide(message, "send");
    const refusal = this.closeController.signal.aborted
      ? "the transport is closed"
      : verdict.kind === "drop"
        ? "dropped by a transport filter"
        : this.snapshotSends >= limit
          ? `already sending ${this.snapshotSends} snapshots (limit ${limit})`
          : undefined;
    if (refusal !== undefined) {
      // The generator may hold a RocksDB snapshot open until it is finished; release it now.
      await chunks[Symbol.asyncIterator]().return?.();
      throw new SnapshotSendError(message.regionId, storeId, refusal);
    }
    if (verdict.kind === "delay")
      await sleep(verdict.delayMs, this.options.timers, this.closeController.signal);
  }

  private async streamSnapshot(
    address: string,
    message: raft_serverpb.RaftMessage,
    chunks: AsyncIterable<Uint8Array>,
  ): Promise<void> {
    const client = createTikvClient(address, this.options.maxMessageBytes);
    try {
      await sendSnapshotChunks({ client, message, chunks, signal: this.closeController.signal });
    } finally {
      client.close();
    }
  }

  private deliverLater(storeId: bigint, message: raft_serverpb.RaftMessage, delayMs: number): void {
    if (this.delayed.size >= this.options.maxQueuedMessages) {
      this.options.metrics.messagesDropped.inc({ reason: "queue_full" });
      return;
    }
    const timer = this.options.timers.setTimeout(() => {
      this.delayed.delete(timer);
      if (!this.closeController.signal.aborted) this.connection(storeId).enqueue([message]);
    }, delayMs);
    this.delayed.add(timer);
  }

  private connection(storeId: bigint): StoreConnection {
    let connection = this.connections.get(storeId);
    if (connection === undefined) {
      connection = new StoreConnection(storeId, this.options, this.tasks, (regionId, toPeerId) =>
        this.reporter?.reportUnreachable(regionId, toPeerId),
      );
      this.connections.set(storeId, connection);
    }
    return connection;
  }
}

type ConnectionState = "idle" | "connecting" | "open" | "backoff" | "closed";

/** The stream to one destination store and the messages waiting for it. */
class StoreConnection {
  private state: ConnectionState = "idle";
  private queue: raft_serverpb.RaftMessage[] = [];
  private client: tikvpb.TikvClient | undefined;
  private call: ClientWritableStream<raft_serverpb.BatchRaftMessage> | undefined;
  private waitingForDrain = false;
  private openedAtMs = 0;
  private readonly reconnectBackoff: ReconnectBackoff;
  private backoffTimer: TimerHandle | undefined;
  /** The peer of each region messaged on the current stream (a region has at most one peer per store). */
  private readonly messagedPeers = new Map<bigint, bigint>();
  private readonly logger: Logger;

  constructor(
    private readonly storeId: bigint,
    private readonly options: GrpcRaftTransportOptions,
    private readonly tasks: TaskScope,
    private readonly reportUnreachable: (regionId: bigint, toPeerId: bigint) => void,
  ) {
    this.logger = options.logger.child({ toStoreId: storeId });
    this.reconnectBackoff = new ReconnectBackoff(options.backoff, options.random);
  }

  enqueue(messages: readonly raft_serverpb.RaftMessage[]): void {
    if (this.state === "closed") return;
    for (const message of messages) {
      if (this.queue.length >= this.options.maxQueuedMessages) {
        this.queue.shift();
        this.options.metrics.messagesDropped.inc({ reason: "queue_full" });
      }
      this.queue.push(message);
    }
    if (this.state === "open") this.flush();
    else if (this.state === "idle") this.startConnecting();
  }

  close(): void {
    if (this.state === "closed") return;
    this.state = "closed";
    this.backoffTimer?.cancel();
    this.options.metrics.messagesDropped.inc({ reason: "closed" }, this.queue.length);
    this.queue = [];
    // A clean end lets the receiver finish the call normally instead of logging a broken stream.
    this.call?.end();
    this.client?.close();
  }

  private startConnecting(): void {
    this.state = "connecting";
    // Refused only once the transport is closing, which closes this connection too.
    if (!this.tasks.spawn(`connect to store ${this.storeId}`, (signal) => this.connect(signal))) {
      this.state = "idle";
    }
  }

  /** Never rejects: a failure schedules the next attempt; the transport's close ends the wait. */
  private async connect(signal: AbortSignal): Promise<void> {
    try {
      const address = await untilAborted(this.options.resolver.resolve(this.storeId), signal);
      if (this.state !== "connecting") return;
      const client = createTikvClient(address, this.options.maxMessageBytes);
      this.client = client;
      const timeoutMs = this.options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
      await untilAborted(waitForReady(client, this.options, timeoutMs), signal);
      if (this.state !== "connecting") return;
      const call = client.batchRaft((error) =>
        this.onFailure(call, error ?? new RaftStreamEndedError(this.storeId)),
      );
      this.call = call;
      this.state = "open";
      this.openedAtMs = this.options.clock.monotonicMs();
      if (this.reconnectBackoff.failures > 0) this.options.metrics.reconnects.inc();
      this.flush();
    } catch (error) {
      if (this.state === "connecting") this.onFailure(undefined, error);
    }
  }

  private flush(): void {
    const call = this.call;
    if (this.state !== "open" || call === undefined || this.waitingForDrain) return;
    while (this.queue.length > 0) {
      const batch = this.takeBatch();
      for (const message of batch) this.messagedPeers.set(message.regionId, message.toPeer?.id ?? 0n);
      this.options.metrics.messagesSent.inc(batch.length);
      this.options.metrics.batchMessages.observe(batch.length);
      if (!call.write({ msgs: batch })) {
        // gRPC buffers the item; stop here so a slow store holds at most maxQueuedMessages of ours.
        this.waitingForDrain = true;
        call.once("drain", () => {
          this.waitingForDrain = false;
          if (call === this.call) this.flush();
        });
        return;
      }
    }
  }

  private takeBatch(): raft_serverpb.RaftMessage[] {
    let count = 0;
    let sizeBytes = 0;
    while (count < this.queue.length) {
      sizeBytes += approximateSizeBytes(this.queue[count]!);
      if (count > 0 && sizeBytes > this.options.maxBatchBytes) break;
      count++;
    }
    return this.queue.splice(0, count);
  }

  private onFailure(
    call: ClientWritableStream<raft_serverpb.BatchRaftMessage> | undefined,
    cause: unknown,
  ): void {
    if (this.state === "closed" || call !== this.call) return;
    const nowMs = this.options.clock.monotonicMs();
    // A stream that stayed up longer than the backoff cap was healthy: the next delays start small again.
    if (this.state === "open" && nowMs - this.openedAtMs >= this.options.backoff.capMs)
      this.reconnectBackoff.reset();
    const delayMs = this.reconnectBackoff.nextDelayMs();
    this.call = undefined;
    this.waitingForDrain = false;
    this.client?.close();
    this.client = undefined;
    this.options.resolver.invalidate(this.storeId);
    const unreachable = this.dropUndeliverable();
    this.logger.warn(
      { err: cause, failuresInARow: this.reconnectBackoff.failures, regions: unreachable.size },
      "raft stream to store failed",
    );
    for (const [regionId, toPeerId] of unreachable) this.reportUnreachable(regionId, toPeerId);
    this.state = "backoff";
    this.backoffTimer = this.options.timers.setTimeout(() => {
      this.backoffTimer = undefined;
      if (this.state !== "backoff") return;
      // Reconnect only when there is something to send; an idle connection opens on the next send.
      if (this.queue.length > 0) this.startConnecting();
      else this.state = "idle";
    }, delayMs);
  }

  /** Forgets queued messages and returns every (region → peer) whose messages may have been lost. */
  private dropUndeliverable(): Map<bigint, bigint> {
    const unreachable = new Map(this.messagedPeers);
    this.messagedPeers.clear();
    for (const message of this.queue) unreachable.set(message.regionId, message.toPeer?.id ?? 0n);
    this.options.metrics.messagesDropped.inc({ reason: "unreachable" }, this.queue.length);
    this.queue = [];
    return unreachable;
  }
}

function waitForReady(
  client: tikvpb.TikvClient,
  options: { readonly clock: Clock },
  timeoutMs: number,
): Promise<void> {
  return new Promise((resolve, reject) => {
    client.waitForReady(options.clock.nowMs() + timeoutMs, (error) => (error ? reject(error) : resolve()));
  });
}

function approximateSizeBytes(message: raft_serverpb.RaftMessage): number {
  let sizeBytes = MESSAGE_OVERHEAD_BYTES + message.startKey.length + message.endKey.length;
  const raft = message.message;
  if (raft !== undefined) {
    sizeBytes += raft.context.length + (raft.snapshot?.data.length ?? 0);
    for (const entry of raft.entries)
      sizeBytes += ENTRY_OVERHEAD_BYTES + entry.data.length + entry.context.length;
  }
  return sizeBytes;
}
