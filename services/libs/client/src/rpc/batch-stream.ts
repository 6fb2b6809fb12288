/**
 * One BatchCommands stream on its own HTTP/2 connection: writes batches of requests tagged with ids and
 * matches answers back by id. The stream is single-use: once it breaks it fails every request in flight at
 * once (the callers retry elsewhere instead of waiting for their deadlines) and never carries another
 * request; its slot opens a fresh stream and connection after a backoff.
 */
import {
  type ChannelOptions,
  type ClientDuplexStream,
  connectivityState,
  credentials,
  type ServiceError,
} from "@grpc/grpc-js";
import { tikvpb } from "#proto";
import { InvariantError } from "#runtime";
import type { PendingRequest, PendingRequestOwner } from "./pending-request.ts";
import { StoreUnavailableError } from "./rpc-errors.ts";

// A peer that vanishes without closing TCP (power loss, dropped packets) is detected within ~13 s by
// keepalive pings instead of leaving a stream that looks open while every request written to it is lost.
const KEEPALIVE_TIME_MS = 10_000;
const KEEPALIVE_TIMEOUT_MS = 3_000;

export interface BatchStreamListener {
  /** Requests left the in-flight table; `answered` says an answer arrived (the store is alive). */
  onCapacityFreed(stream: BatchStream, answered: boolean): void;
  /** The stream failed; its in-flight requests were already failed with `error`. Called at most once. */
  onBroken(stream: BatchStream, error: StoreUnavailableError): void;
}

type Call = ClientDuplexStream<tikvpb.BatchCommandsRequest, tikvpb.BatchCommandsResponse>;

export class BatchStream implements PendingRequestOwner {
  private readonly inFlight = new Map<bigint, PendingRequest>();
  private readonly client: tikvpb.TikvClient;
  private readonly call: Call;
  private open = true;
  /**
   * Whether this stream's connection (its own channel) ever came up. Until it does, grpc-js holds what we
   * write; if the stream fails before that, no request of it reached the store, and a write may safely go
   * to another peer instead of ending with an unknown outcome.
   */
  private connected = false;

  constructor(
    readonly address: string,
    maxMessageBytes: number,
    private readonly listener: BatchStreamListener,
  ) {
    this.client = new tikvpb.TikvClient(
      address,
      credentials.createInsecure(),
      channelOptions(maxMessageBytes),
    );
    this.call = this.client.batchCommands();
    this.watchConnection();
    this.call.on("data", (message: tikvpb.BatchCommandsResponse) => this.receive(message));
    this.call.on("error", (error: ServiceError) => this.break(`stream failed: ${error.details}`, error));
    // "end" (not "status") for a clean finish: it comes after every buffered answer has been delivered.
    this.call.on("end", () => this.break("stream ended by the store"));
  }

  get inFlightCount(): number {
    return this.inFlight.size;
  }

  send(batch: readonly PendingRequest[]): void {
    if (!this.open) throw new InvariantError(`send on a closed BatchCommands stream to ${this.address}`);
    const requestIds: bigint[] = [];
    const requests: tikvpb.BatchCommandsRequest_Request[] = [];
    for (const pending of batch) {
      pending.owner = this;
      pending.sent = true;
      this.inFlight.set(pending.id, pending);
      requestIds.push(pending.id);
      requests.push(pending.request);
    }
    this.call.write({ requestIds, requests });
  }

  forget(request: PendingRequest): void {
    if (this.inFlight.delete(request.id)) this.listener.onCapacityFreed(this, false);
  }

  /** Ends the stream and its connection, failing whatever is still in flight with `error`; no callbacks. */
  close(error: Error): void {
    if (!this.open) return;
    this.open = false;
    this.failInFlight(error);
    this.call.cancel();
    this.client.close();
  }

  private receive(message: tikvpb.BatchCommandsResponse): void {
    if (!this.open) return;
    if (message.requestIds.length !== message.responses.length) {
      const detail = `${message.responses.length} responses but ${message.requestIds.length} request ids`;
      this.break(`malformed response: ${detail}`);
      return;
    }
    let freed = false;
    message.requestIds.forEach((id, index) => {
      const pending = this.inFlight.get(id);
      // Unknown ids are answers to requests that already timed out and were forgotten.
      if (pending === undefined) return;
      this.inFlight.delete(id);
      freed = true;
      pending.resolve(message.responses[index]!);
    });
    if (freed) this.listener.onCapacityFreed(this, true);
  }

  /** Sets `connected` once the channel is READY; grpc-js reports the state before it sends on it. */
  private watchConnection(): void {
    const channel = this.client.getChannel();
    const watch = (state: connectivityState): void => {
      if (state === connectivityState.READY) {
        this.connected = true;
        return;
      }
      if (!this.open || state === connectivityState.SHUTDOWN) return;
      channel.watchConnectivityState(state, Number.POSITIVE_INFINITY, () =>
        watch(channel.getConnectivityState(false)),
      );
    };
    watch(channel.getConnectivityState(true));
  }

  private break(reason: string, cause?: unknown): void {
    if (!this.open) return;
    const error = new StoreUnavailableError({
      address: this.address,
      reason,
      cause,
      neverSent: !this.connected,
    });
    this.close(error);
    this.listener.onBroken(this, error);
  }

  private failInFlight(error: Error): void {
    const failed = [...this.inFlight.values()];
    this.inFlight.clear();
    for (const pending of failed) pending.reject(error);
  }
}

function channelOptions(maxMessageBytes: number): ChannelOptions {
  return {
    "grpc.max_receive_message_length": maxMessageBytes,
    "grpc.max_send_message_length": maxMessageBytes,
    "grpc.keepalive_time_ms": KEEPALIVE_TIME_MS,
    "grpc.keepalive_timeout_ms": KEEPALIVE_TIMEOUT_MS,
    "grpc.keepalive_permit_without_calls": 1,
    // Each stream gets its own connection: a fresh one per reconnect (not a shared subchannel still in
    // gRPC's own backoff), and one stream's failure never takes the others down with it.
    "grpc.use_local_subchannel_pool": 1,
  };
}
