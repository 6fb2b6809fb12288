/**
 * One gRPC client (one HTTP/2 connection) per pd member address, shared by unary calls and streams, so a
 * client talking to three pd members holds three connections however many requests are in flight.
 */
import { type ChannelOptions, credentials } from "@grpc/grpc-js";
import { pdpb } from "#proto";

// grpc-js backs off up to 120 s between reconnects by default; a pd leader that restarts on the same
// address must be found again within seconds, and our own ReconnectBackoff already spaces the attempts.
const CHANNEL_OPTIONS: ChannelOptions = {
  "grpc.initial_reconnect_backoff_ms": 100,
  "grpc.max_reconnect_backoff_ms": 1000,
};

export class PdChannels {
  private readonly clients = new Map<string, pdpb.PDClient>();

  /** `address` is a normalised host:port (see toGrpcAddress). */
  get(address: string): pdpb.PDClient {
    let client = this.clients.get(address);
    if (client === undefined) {
      client = new pdpb.PDClient(address, credentials.createInsecure(), CHANNEL_OPTIONS);
      this.clients.set(address, client);
    }
    return client;
  }

  closeAll(): void {
    for (const client of this.clients.values()) client.close();
    this.clients.clear();
  }
}
