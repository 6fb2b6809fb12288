/**
 * Raft messages leaving the store during one turn, grouped by destination store so each store gets one
 * batch per flush (the transport turns it into one stream item).
 */
import { type metapb, raft_serverpb } from "#proto";
import type { Message } from "#raft";
import type { Peer } from "./peer.ts";
import { messageToWire } from "./raft-message.ts";
import type { RaftTransport } from "./store-context.ts";

/** The envelope every message of `peer` travels in: who sends it, to whom, and the sender's region view. */
export function envelopeOf(peer: Peer, message: Message, toPeer: metapb.Peer): raft_serverpb.RaftMessage {
  return raft_serverpb.RaftMessage.fromPartial({
    regionId: peer.regionId,
    fromPeer: peer.meta,
    toPeer,
    message: messageToWire(message),
    regionEpoch: peer.region.regionEpoch,
    isTombstone: false,
    startKey: peer.region.startKey,
    endKey: peer.region.endKey,
  });
}

export class Outbox {
  private readonly byStore = new Map<bigint, raft_serverpb.RaftMessage[]>();
  private count = 0;

  get size(): number {
    return this.count;
  }

  add(storeId: bigint, message: raft_serverpb.RaftMessage): void {
    let messages = this.byStore.get(storeId);
    if (messages === undefined) {
      messages = [];
      this.byStore.set(storeId, messages);
    }
    messages.push(message);
    this.count++;
  }

  flush(transport: RaftTransport): void {
    for (const [storeId, messages] of this.byStore) transport.send(storeId, messages);
    this.byStore.clear();
    this.count = 0;
  }
}
