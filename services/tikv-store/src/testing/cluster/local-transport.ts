/**
 * A raft transport between Store instances in one process: messages are delivered on a later event-loop
 * turn (never re-entrantly), snapshots are collected and handed over whole (the send resolves once the
 * receiver staged and verified it). One transport filter — the cluster's faults — decides each message's
 * fate on both sides, as a store's filter chain does over gRPC: drop, deliver, or deliver late. A message
 * to a store that is down is lost and its sender hears the store is unreachable.
 */
import { eraftpb, type raft_serverpb } from "#proto";
import { sleep } from "#runtime";
import type { SnapshotData } from "../../raftstore/store.ts";
import type { RaftTransport } from "../../raftstore/store-context.ts";
import { DROP, type FilterVerdict, type TransportFilter } from "../../server/transport-filter.ts";
import { combineDelays } from "./cluster-faults.ts";

/** The part of a Store the hub delivers to. */
export interface TransportEndpoint {
  onRaftMessages(messages: readonly raft_serverpb.RaftMessage[]): void;
  onSnapshotReceived(message: raft_serverpb.RaftMessage, data: SnapshotData): Promise<void>;
  reportUnreachable(regionId: bigint, toPeerId: bigint): void;
}

export class SnapshotDeliveryError extends Error {
  override readonly name = "SnapshotDeliveryError";
}

export class LocalTransportHub {
  private readonly endpoints = new Map<bigint, TransportEndpoint>();
  /** Late deliveries not yet made, cancelled by `close` so none outlives the cluster. */
  private readonly pending = new Set<NodeJS.Timeout>();

  constructor(private readonly filter: TransportFilter) {}

  /** The transport a store with `storeId` sends through. */
  transportFor(storeId: bigint): RaftTransport {
    return {
      send: (toStore, messages) => this.send(storeId, toStore, messages),
      sendSnapshot: (toStore, message, chunks) => this.sendSnapshot(storeId, toStore, message, chunks),
    };
  }

  attach(storeId: bigint, endpoint: TransportEndpoint): void {
    this.endpoints.set(storeId, endpoint);
  }

  /** The store is down: messages to it are lost and its senders hear it is unreachable. */
  detach(storeId: bigint): void {
    this.endpoints.delete(storeId);
  }

  close(): void {
    for (const timer of this.pending) clearTimeout(timer);
    this.pending.clear();
  }

  private verdict(message: raft_serverpb.RaftMessage): FilterVerdict {
    const sent = this.filter.decide(message, "send");
    if (sent.kind === "drop") return DROP;
    const received = this.filter.decide(message, "receive");
    return received.kind === "drop" ? DROP : combineDelays(sent, received);
  }

  private send(from: bigint, to: bigint, messages: readonly raft_serverpb.RaftMessage[]): void {
    const now: raft_serverpb.RaftMessage[] = [];
    for (const message of messages) {
      const verdict = this.verdict(message);
      if (verdict.kind === "deliver") now.push(message);
      else if (verdict.kind === "delay") this.later(verdict.delayMs, () => this.deliver(from, to, [message]));
    }
    if (now.length > 0) setImmediate(() => this.deliver(from, to, now));
  }

  private later(delayMs: number, deliver: () => void): void {
    const timer = setTimeout(() => {
      this.pending.delete(timer);
      deliver();
    }, delayMs);
    this.pending.add(timer);
  }

  private deliver(from: bigint, to: bigint, messages: readonly raft_serverpb.RaftMessage[]): void {
    const target = this.endpoints.get(to);
    if (target !== undefined) {
      target.onRaftMessages(messages);
      return;
    }
    const sender = this.endpoints.get(from);
    for (const message of messages) {
      if (message.toPeer !== undefined) sender?.reportUnreachable(message.regionId, message.toPeer.id);
    }
  }

  private async sendSnapshot(
    from: bigint,
    to: bigint,
    message: raft_serverpb.RaftMessage,
    chunks: AsyncIterable<Uint8Array>,
  ): Promise<void> {
    const verdict = this.verdict(message);
    if (verdict.kind === "drop") {
      throw new SnapshotDeliveryError(`snapshot of region ${message.regionId} dropped by a filter`);
    }
    const collected: Uint8Array[] = [];
    for await (const chunk of chunks) collected.push(Uint8Array.from(chunk));
    if (verdict.kind === "delay") await sleep(verdict.delayMs);
    const target = this.endpoints.get(to);
    if (target === undefined) throw new SnapshotDeliveryError(`store ${to} is down`);
    if (message.message?.msgType !== eraftpb.MessageType.SNAPSHOT) {
      throw new SnapshotDeliveryError(`a snapshot send from store ${from} without a snapshot message`);
    }
    await target.onSnapshotReceived(message, collected);
  }
}
