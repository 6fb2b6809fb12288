/**
 * The server side of store-to-store raft traffic (`tikvpb.Raft` and `tikvpb.BatchRaft`): every message
 * addressed to this store goes to the raftstore's mailboxes as it arrives; the streams stay open for the
 * life of the sending store's connection and are answered only when the sender ends them.
 *
 * A message for another store means the sender's cached address is stale (a store restarted on a port
 * another store now uses): the stream is failed with FAILED_PRECONDITION so the sender re-resolves it.
 */
import { type handleClientStreamingCall, type ServerReadableStream, status } from "@grpc/grpc-js";
import type { Logger } from "#observability";
import type { raft_serverpb } from "#proto";
import type { TimerHandle, Timers } from "#runtime";
import type { RaftTransportMetrics } from "./server-metrics.ts";
import type { TransportFilterChain } from "./transport-filter.ts";

export interface RaftMessageSink {
  onRaftMessages(messages: readonly raft_serverpb.RaftMessage[]): void;
}

export interface RaftReceiverOptions {
  readonly storeId: bigint;
  readonly sink: RaftMessageSink;
  /** The same chain as this store's transport: filters with side "receive" or "both" act here. */
  readonly filters: TransportFilterChain;
  /** Bound on messages held back by delay filters. */
  readonly maxDelayedMessages: number;
  readonly timers: Timers;
  readonly logger: Logger;
  readonly metrics: RaftTransportMetrics;
}

export class RaftReceiver {
  private readonly delayed = new Set<TimerHandle>();
  private closed = false;

  constructor(private readonly options: RaftReceiverOptions) {}

  readonly raft: handleClientStreamingCall<raft_serverpb.RaftMessage, raft_serverpb.Done> = (
    call,
    callback,
  ) => this.serve(call, callback, (message) => [message]);

  readonly batchRaft: handleClientStreamingCall<raft_serverpb.BatchRaftMessage, raft_serverpb.Done> = (
    call,
    callback,
  ) => this.serve(call, callback, (batch) => batch.msgs);

  /** Stops delivering (the raftstore is going away) and drops messages held by delay filters. */
  close(): void {
    this.closed = true;
    for (const timer of this.delayed) timer.cancel();
    this.delayed.clear();
  }

  private serve<Item>(
    call: ServerReadableStream<Item, raft_serverpb.Done>,
    callback: (error: { code: status; details: string } | null, done?: raft_serverpb.Done) => void,
    messagesOf: (item: Item) => readonly raft_serverpb.RaftMessage[],
  ): void {
    let answered = false;
    const answer = (error: { code: status; details: string } | null): void => {
      if (answered) return;
      answered = true;
      if (error === null) callback(null, {});
      else callback(error);
    };
    call.on("data", (item: Item) => {
      if (answered) return;
      const misaddressed = messagesOf(item).find(
        (message) => message.toPeer !== undefined && message.toPeer.storeId !== this.options.storeId,
      );
      if (misaddressed !== undefined) {
        answer({
          code: status.FAILED_PRECONDITION,
          details: `store not match: message for store ${misaddressed.toPeer?.storeId} reached store ${this.options.storeId}`,
        });
        return;
      }
      this.deliver(messagesOf(item));
    });
    call.on("end", () => answer(null));
    // A broken or cancelled stream needs no answer; the sender reconnects on its own.
    call.on("error", () => {
      answered = true;
    });
  }

  private deliver(messages: readonly raft_serverpb.RaftMessage[]): void {
    if (this.closed) return;
    const { metrics, filters } = this.options;
    const passed: raft_serverpb.RaftMessage[] = [];
    for (const message of messages) {
      const verdict = filters.decide(message, "receive");
      if (verdict.kind === "deliver") passed.push(message);
      else if (verdict.kind === "drop") metrics.messagesDropped.inc({ reason: "filter" });
      else this.deliverLater(message, verdict.delayMs);
    }
    if (passed.length > 0) this.handOver(passed);
  }

  private handOver(messages: readonly raft_serverpb.RaftMessage[]): void {
    this.options.metrics.messagesReceived.inc(messages.length);
    try {
      this.options.sink.onRaftMessages(messages);
    } catch (error) {
      // The raftstore refusing a message (closing, full mailbox) must not break the stream for the others.
      this.options.logger.warn({ err: error, messages: messages.length }, "raftstore refused raft messages");
    }
  }

  private deliverLater(message: raft_serverpb.RaftMessage, delayMs: number): void {
    if (this.delayed.size >= this.options.maxDelayedMessages) {
      this.options.metrics.messagesDropped.inc({ reason: "queue_full" });
      return;
    }
    const timer = this.options.timers.setTimeout(() => {
      this.delayed.delete(timer);
      if (!this.closed) this.handOver([message]);
    }, delayMs);
    this.delayed.add(timer);
  }
}
