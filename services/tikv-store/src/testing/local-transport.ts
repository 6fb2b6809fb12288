/**
 * A raft transport between Store instances in one process, for tests: messages are delivered on a later
 * event-loop turn (never re-entrantly), snapshots are collected and handed over whole (the send resolves
 * once the receiver staged and verified it), and filters drop messages (by type, direction, region,
 * probability) or partition the stores, like TinyKV's test filters.
 */
import { eraftpb, type raft_serverpb } from "#proto";
import type { Random } from "#runtime";
import type { SnapshotData } from "../raftstore/store.ts";
import type { RaftTransport } from "../raftstore/store-context.ts";

/** The part of a Store the hub delivers to. */
export interface TransportEndpoint {
  onRaftMessages(messages: readonly raft_serverpb.RaftMessage[]): void;
  onSnapshotReceived(message: raft_serverpb.RaftMessage, data: SnapshotData): Promise<void>;
  reportUnreachable(regionId: bigint, toPeerId: bigint): void;
}

/** Returns true to drop the message travelling from `fromStore` to `toStore`. */
export type MessageFilter = (
  message: raft_serverpb.RaftMessage,
  fromStore: bigint,
  toStore: bigint,
) => boolean;

export class SnapshotDeliveryError extends Error {
  override readonly name = "SnapshotDeliveryError";
}

export class LocalTransportHub {
  private readonly endpoints = new Map<bigint, TransportEndpoint>();
  private readonly filters = new Set<MessageFilter>();
  private delivered = 0;
  private dropped = 0;

  constructor(private readonly random: Random) {}

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

  addFilter(filter: MessageFilter): () => void {
    this.filters.add(filter);
    return () => this.filters.delete(filter);
  }

  clearFilters(): void {
    this.filters.clear();
  }

  /** Cuts every link between the two groups (both directions). */
  partition(groupA: readonly bigint[], groupB: readonly bigint[]): () => void {
    const a = new Set(groupA);
    const b = new Set(groupB);
    return this.addFilter((_, from, to) => (a.has(from) && b.has(to)) || (b.has(from) && a.has(to)));
  }

  /** Drops each message with the given probability (an unreliable network). */
  dropRandomly(probability: number): () => void {
    return this.addFilter(() => this.random.chance(probability));
  }

  /** Drops every message of the given raft types. */
  dropTypes(types: readonly eraftpb.MessageType[]): () => void {
    const dropped = new Set(types);
    return this.addFilter((message) => message.message !== undefined && dropped.has(message.message.msgType));
  }

  get statistics(): { readonly delivered: number; readonly dropped: number } {
    return { delivered: this.delivered, dropped: this.dropped };
  }

  private passes(message: raft_serverpb.RaftMessage, from: bigint, to: bigint): boolean {
    for (const filter of this.filters) {
      if (filter(message, from, to)) return false;
    }
    return true;
  }

  private send(from: bigint, to: bigint, messages: readonly raft_serverpb.RaftMessage[]): void {
    const passed = messages.filter((message) => this.passes(message, from, to));
    this.dropped += messages.length - passed.length;
    if (passed.length === 0) return;
    setImmediate(() => {
      const target = this.endpoints.get(to);
      if (target === undefined) {
        this.dropped += passed.length;
        this.reportUnreachable(from, passed);
        return;
      }
      this.delivered += passed.length;
      target.onRaftMessages(passed);
    });
  }

  private reportUnreachable(from: bigint, messages: readonly raft_serverpb.RaftMessage[]): void {
    const sender = this.endpoints.get(from);
    if (sender === undefined) return;
    for (const message of messages) {
      if (message.toPeer !== undefined) sender.reportUnreachable(message.regionId, message.toPeer.id);
    }
  }

  private async sendSnapshot(
    from: bigint,
    to: bigint,
    message: raft_serverpb.RaftMessage,
    chunks: AsyncIterable<Uint8Array>,
  ): Promise<void> {
    if (!this.passes(message, from, to)) {
      throw new SnapshotDeliveryError(`snapshot of region ${message.regionId} dropped by a filter`);
    }
    const collected: Uint8Array[] = [];
    for await (const chunk of chunks) collected.push(Uint8Array.from(chunk));
    const target = this.endpoints.get(to);
    if (target === undefined) throw new SnapshotDeliveryError(`store ${to} is down`);
    if (message.message?.msgType !== eraftpb.MessageType.SNAPSHOT) {
      throw new SnapshotDeliveryError("a snapshot send without a snapshot message");
    }
    await target.onSnapshotReceived(message, collected);
  }
}
