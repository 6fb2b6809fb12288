/**
 * One bidirectional `Detect` stream from this store to the detector's store, on a channel of its own so
 * that closing it never disturbs other traffic to that store. It reports its end exactly once, whether
 * the detector ended it, the connection broke, or the call failed; closing it is silent.
 */
import {
  type ClientDuplexStream,
  connectivityState,
  credentials,
  type ServiceError,
  status,
} from "@grpc/grpc-js";
import { deadlock } from "#proto";
import { asError, type Timers } from "#runtime";
import { grpcChannelOptions } from "../../server/grpc-options.ts";

/** Where the detector runs. */
export interface DetectorLocation {
  readonly storeId: bigint;
  /** gRPC address of that store, "host:port". */
  readonly address: string;
}

export interface DetectStreamEvents {
  onResponse(stream: DetectStream, response: deadlock.DeadlockResponse): void;
  onBroken(stream: DetectStream, cause: unknown): void;
}

export interface DetectStreamConnectOptions {
  readonly location: DetectorLocation;
  readonly maxMessageBytes: number;
  /** How long the channel may take to come up. */
  readonly timeoutMs: number;
  readonly timers: Timers;
  readonly events: DetectStreamEvents;
  /** Aborts the connection attempt (the owner is closing). */
  readonly signal: AbortSignal;
}

/** The detector's store ended the stream cleanly, which it never does while it serves. */
export class DetectStreamEndedError extends Error {
  override readonly name = "DetectStreamEndedError";

  constructor(
    readonly location: DetectorLocation,
    detail: string,
  ) {
    super(`store ${location.storeId} (${location.address}) ended the deadlock detect stream: ${detail}`);
  }
}

type Call = ClientDuplexStream<deadlock.DeadlockRequest, deadlock.DeadlockResponse>;

export class DetectStream {
  private ended = false;

  private constructor(
    readonly location: DetectorLocation,
    private readonly client: deadlock.DeadlockClient,
    private readonly call: Call,
    events: DetectStreamEvents,
  ) {
    call.on("data", (response: deadlock.DeadlockResponse) => {
      if (!this.ended) events.onResponse(this, response);
    });
    const finish = (cause: unknown): void => {
      if (this.ended) return;
      this.close();
      events.onBroken(this, cause);
    };
    call.on("error", (error: ServiceError) => finish(error));
    call.on("status", (ending: { code: status; details: string }) =>
      finish(new DetectStreamEndedError(location, `${status[ending.code]} ${ending.details}`)),
    );
    call.on("end", () => finish(new DetectStreamEndedError(location, "end of stream")));
  }

  /** Opens the stream once the channel to the detector is up; rejects (and releases the channel) otherwise. */
  static async connect(options: DetectStreamConnectOptions): Promise<DetectStream> {
    const { location } = options;
    const client = new deadlock.DeadlockClient(location.address, credentials.createInsecure(), {
      ...grpcChannelOptions(options.maxMessageBytes),
      "grpc.use_local_subchannel_pool": 1,
    });
    try {
      await waitForReady(client, options);
    } catch (error) {
      client.close();
      throw error;
    }
    return new DetectStream(location, client, client.detect(), options.events);
  }

  /** False when gRPC buffers the request: wait for `onceDrained` before writing more. */
  write(request: deadlock.DeadlockRequest): boolean {
    return this.call.write(request);
  }

  onceDrained(callback: () => void): void {
    this.call.once("drain", callback);
  }

  close(): void {
    if (this.ended) return;
    this.ended = true;
    this.call.cancel();
    this.client.close();
  }
}

/**
 * Resolves once the channel is READY. Unlike grpc-js's `waitForReady`, whose deadline timer stays armed
 * after the client is closed (holding a closing process open until the deadline), the deadline here is our
 * own timer, cancelled whichever way the wait ends.
 */
function waitForReady(client: deadlock.DeadlockClient, options: DetectStreamConnectOptions): Promise<void> {
  const { signal, timeoutMs } = options;
  const channel = client.getChannel();
  return new Promise((resolve, reject) => {
    let settled = false;
    const finish = (error?: Error): void => {
      if (settled) return;
      settled = true;
      timer.cancel();
      signal.removeEventListener("abort", onAbort);
      if (error === undefined) resolve();
      else reject(error);
    };
    const onAbort = (): void => finish(asError(signal.reason));
    const timer = options.timers.setTimeout(
      () => finish(new Error(`not connected within ${timeoutMs} ms`)),
      timeoutMs,
    );
    signal.addEventListener("abort", onAbort, { once: true });
    const watch = (): void => {
      if (settled) return;
      try {
        const state = channel.getConnectivityState(true);
        if (state === connectivityState.READY) finish();
        else channel.watchConnectivityState(state, Number.POSITIVE_INFINITY, watch);
      } catch (error) {
        // The channel was closed under us.
        finish(asError(error));
      }
    };
    if (signal.aborted) onAbort();
    else watch();
  });
}
