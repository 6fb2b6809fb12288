/**
 * gRPC channel and server options shared by the store's server and its clients to other stores.
 *
 * Keepalive pings matter for raft streams: a peer that vanishes without closing its TCP connection (power
 * loss, a partition dropping packets) would otherwise leave a stream that looks open for minutes while
 * every message written to it is lost. With pings every 10 s and a 3 s answer deadline the stream fails
 * within ~13 s and the transport reconnects or reports the store unreachable.
 */
import { type ChannelOptions, credentials } from "@grpc/grpc-js";
import { tikvpb } from "#proto";

const KEEPALIVE_TIME_MS = 10_000;
const KEEPALIVE_TIMEOUT_MS = 3_000;

export function grpcChannelOptions(maxMessageBytes: number): ChannelOptions {
  return {
    "grpc.max_receive_message_length": maxMessageBytes,
    "grpc.max_send_message_length": maxMessageBytes,
    "grpc.keepalive_time_ms": KEEPALIVE_TIME_MS,
    "grpc.keepalive_timeout_ms": KEEPALIVE_TIMEOUT_MS,
    "grpc.keepalive_permit_without_calls": 1,
  };
}

/** The server pings idle clients too, so a gateway that vanished stops holding its BatchCommands streams. */
export function grpcServerOptions(maxMessageBytes: number): ChannelOptions {
  return grpcChannelOptions(maxMessageBytes);
}

/** A Tikv client on its own channel, so closing it never disturbs other streams to the same store. */
export function createTikvClient(address: string, maxMessageBytes: number): tikvpb.TikvClient {
  return new tikvpb.TikvClient(address, credentials.createInsecure(), {
    ...grpcChannelOptions(maxMessageBytes),
    "grpc.use_local_subchannel_pool": 1,
  });
}
