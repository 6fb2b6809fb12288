/**
 * Region snapshots over the `tikvpb.Snapshot` client stream. The first chunk carries the raft message
 * announcing the snapshot; every later chunk carries only data (the snapshot byte stream of
 * snapshot/snapshot-codec.ts, which ends in a checksummed trailer).
 *
 * The receiver hands chunks to a `SnapshotSink` as they arrive and finishes the snapshot only when the
 * stream completed cleanly; a stream cut halfway (sender crash, network failure) is aborted, so the sink
 * stages nothing and the leader, seeing the send fail, retries with a fresh snapshot. A stream that ends
 * cleanly but early lacks the codec's trailer: the sink's verification refuses it.
 */
import { once } from "node:events";
import {
  type ClientWritableStream,
  type handleClientStreamingCall,
  type ServerReadableStream,
  status,
} from "@grpc/grpc-js";
import { eraftpb, type raft_serverpb, type tikvpb } from "#proto";
import { TaskScope, type Timers } from "#runtime";

export class SnapshotSendError extends Error {
  override readonly name = "SnapshotSendError";

  constructor(
    readonly regionId: bigint,
    readonly toStoreId: bigint,
    reason: string,
    options?: { readonly cause?: unknown },
  ) {
    super(`sending the snapshot of region ${regionId} to store ${toStoreId} failed: ${reason}`, options);
  }
}

/**
 * Streams `chunks` to the store behind `client`, honouring backpressure, and resolves once the receiver
 * has accepted the whole snapshot. Aborting `signal` cancels the stream (the receiver applies nothing).
 */
export async function sendSnapshotChunks(options: {
  readonly client: tikvpb.TikvClient;
  readonly message: raft_serverpb.RaftMessage;
  readonly chunks: AsyncIterable<Uint8Array>;
  readonly signal: AbortSignal;
}): Promise<void> {
  const { message, signal } = options;
  const toStoreId = message.toPeer?.storeId ?? 0n;
  const answer: { refusal?: SnapshotSendError } = {};
  let call!: ClientWritableStream<raft_serverpb.SnapshotChunk>;
  // Never rejects: the receiver may answer while chunks are still being produced, and its refusal waits
  // in `answer` for the loop below (or the final check) to throw it.
  const answered = new Promise<void>((resolve) => {
    call = options.client.snapshot((error) => {
      if (error !== null) {
        answer.refusal = new SnapshotSendError(message.regionId, toStoreId, error.message, { cause: error });
      }
      resolve();
    });
  });
  const cancel = (): void => call.cancel();
  signal.addEventListener("abort", cancel, { once: true });
  try {
    await writeChunks(call, message, options.chunks, answered, answer, signal);
    call.end();
    await answered;
    if (answer.refusal !== undefined) throw answer.refusal;
  } catch (error) {
    call.cancel();
    throw error;
  } finally {
    signal.removeEventListener("abort", cancel);
  }
}

async function writeChunks(
  call: ClientWritableStream<raft_serverpb.SnapshotChunk>,
  message: raft_serverpb.RaftMessage,
  chunks: AsyncIterable<Uint8Array>,
  answered: Promise<void>,
  answer: { readonly refusal?: SnapshotSendError },
  signal: AbortSignal,
): Promise<void> {
  let first = true;
  for await (const data of chunks) {
    signal.throwIfAborted();
    if (answer.refusal !== undefined) throw answer.refusal;
    const written = call.write({ message: first ? message : undefined, data });
    first = false;
    // Waiting for 'drain' bounds the sender's memory to one chunk plus gRPC's window.
    if (!written) await Promise.race([once(call, "drain"), answered]);
  }
  if (first) call.write({ message, data: new Uint8Array(0) });
}

/**
 * Where received chunks go: the store stages them (on disk, verified chunk by chunk) and uses the
 * snapshot only once it is whole. `begin` throws to refuse a snapshot (unknown region, stale, closing).
 */
export interface SnapshotSink {
  begin(message: raft_serverpb.RaftMessage): SnapshotReception;
}

export interface SnapshotReception {
  write(chunk: Uint8Array): Promise<void>;
  /**
   * No more chunks. Resolves once the sink holds the snapshot whole (staged and verified); throws when it
   * does not (refused, incomplete, corrupt). The sender is answered only after this settles.
   */
  finish(): Promise<void>;
  /** Drops everything received; called for a broken or refused stream. */
  abort(): Promise<void>;
}

export interface SnapshotReceiverOptions {
  readonly sink: SnapshotSink;
  /** Snapshots received at the same time; more are refused with RESOURCE_EXHAUSTED (the sender retries). */
  readonly maxConcurrentReceives: number;
  /**
   * A stream that delivers no chunk for this long is dropped (and its reception aborted): a sender that
   * stalls without failing would otherwise hold the region's incoming snapshot, and a receive slot, forever.
   */
  readonly idleTimeoutMs: number;
  readonly timers: Timers;
  /** Called once per stream with its outcome, for logs and metrics. */
  onOutcome?(outcome: { readonly ok: boolean; readonly regionId?: bigint; readonly reason?: string }): void;
}

/** A refusal carrying the gRPC status the sender sees. */
class SnapshotRejection extends Error {
  constructor(
    readonly code: status,
    message: string,
  ) {
    super(message);
  }
}

/**
 * The server side of `tikvpb.Snapshot`. Its `close` refuses new streams, ends the receptions in flight
 * (each discards what it received and is answered UNAVAILABLE) and resolves once they are all done, so no
 * reception outlives the store it stages into.
 */
export type SnapshotHandler = handleClientStreamingCall<raft_serverpb.SnapshotChunk, raft_serverpb.Done> & {
  close(): Promise<void>;
};

export function createSnapshotHandler(options: SnapshotReceiverOptions): SnapshotHandler {
  let receiving = 0;
  const receptions = new TaskScope({
    name: "snapshot receiver",
    // Only a bug gets here (an outcome observer or a gRPC callback threw): report it with the outcomes.
    onError: (error, task) => options.onOutcome?.({ ok: false, reason: `${task} failed: ${error.message}` }),
  });
  const handle: handleClientStreamingCall<raft_serverpb.SnapshotChunk, raft_serverpb.Done> = (
    call,
    callback,
  ) => {
    if (receiving >= options.maxConcurrentReceives) {
      const reason = `already receiving ${receiving} snapshots (limit ${options.maxConcurrentReceives})`;
      options.onOutcome?.({ ok: false, reason });
      callback({ code: status.RESOURCE_EXHAUSTED, details: reason });
      return;
    }
    receiving++;
    const spawned = receptions.spawn("receive a snapshot", async (signal) => {
      const outcome = await new SnapshotCall(call, options, signal).run();
      receiving--;
      if (outcome.rejection !== undefined) {
        callback({ code: outcome.rejection.code, details: outcome.rejection.message });
      } else if (outcome.ok) callback(null, {});
      options.onOutcome?.(outcome);
    });
    if (!spawned) {
      receiving--;
      callback({ code: status.UNAVAILABLE, details: CLOSING });
    }
  };
  return Object.assign(handle, { close: () => receptions.close() });
}

const CLOSING = "the store is closing";

interface CallOutcome {
  readonly ok: boolean;
  readonly regionId?: bigint;
  readonly reason?: string;
  /** Absent for a broken stream, which has nobody left to answer. */
  readonly rejection?: SnapshotRejection;
}

/**
 * One incoming snapshot stream. Chunks are written one at a time with the stream paused meanwhile, so
 * the receiver holds at most one chunk in memory whatever the sender's speed.
 */
class SnapshotCall {
  private reception: SnapshotReception | undefined;
  private regionId: bigint | undefined;
  private readonly events: Array<
    | { kind: "chunk"; chunk: raft_serverpb.SnapshotChunk }
    | { kind: "end" }
    | { kind: "broken" }
    | { kind: "closing" }
  > = [];
  private wake: (() => void) | undefined;

  constructor(
    private readonly call: ServerReadableStream<raft_serverpb.SnapshotChunk, raft_serverpb.Done>,
    private readonly options: SnapshotReceiverOptions,
    private readonly closing: AbortSignal,
  ) {
    call.on("data", (chunk: raft_serverpb.SnapshotChunk) => {
      call.pause();
      this.push({ kind: "chunk", chunk });
    });
    call.on("end", () => this.push({ kind: "end" }));
    call.on("error", () => this.push({ kind: "broken" }));
    call.on("cancelled", () => this.push({ kind: "broken" }));
  }

  /** Never rejects: every way the stream ends is an outcome. */
  async run(): Promise<CallOutcome> {
    const onClosing = (): void => this.push({ kind: "closing" });
    this.closing.addEventListener("abort", onClosing, { once: true });
    if (this.closing.aborted) onClosing();
    try {
      for (;;) {
        const event = await this.next();
        if (event === undefined) {
          throw new SnapshotRejection(
            status.DEADLINE_EXCEEDED,
            `region ${this.regionId ?? "?"}: no snapshot chunk arrived for ${this.options.idleTimeoutMs} ms`,
          );
        }
        if (event.kind === "closing") throw new SnapshotRejection(status.UNAVAILABLE, CLOSING);
        if (event.kind === "broken") return await this.fail("the stream broke before it completed");
        if (event.kind === "end") {
          if (this.reception === undefined) throw invalid("the stream ended before the first chunk");
          await this.reception.finish();
          return { ok: true, regionId: this.regionId };
        }
        await this.accept(event.chunk);
        this.call.resume();
      }
    } catch (error) {
      // Anything but a malformed stream is the store declining for now (busy, stale, closing): retry later.
      const rejection =
        error instanceof SnapshotRejection
          ? error
          : new SnapshotRejection(status.UNAVAILABLE, describe(error));
      return { ...(await this.fail(rejection.message)), rejection };
    } finally {
      this.closing.removeEventListener("abort", onClosing);
    }
  }

  private async accept(chunk: raft_serverpb.SnapshotChunk): Promise<void> {
    if (this.reception === undefined) {
      const message = announcement(chunk);
      this.regionId = message.regionId;
      this.reception = this.options.sink.begin(message);
    } else if (chunk.message !== undefined) {
      throw invalid(`region ${this.regionId}: a later chunk carries a second raft message`);
    }
    if (chunk.data.length > 0) await this.reception.write(chunk.data);
  }

  /** Discards what was received; a failure to discard joins the reason, which the owner logs. */
  private async fail(reason: string): Promise<CallOutcome> {
    try {
      await this.reception?.abort();
      return { ok: false, regionId: this.regionId, reason };
    } catch (error) {
      const discarding = `${reason}; discarding what was received failed too: ${describe(error)}`;
      return { ok: false, regionId: this.regionId, reason: discarding };
    }
  }

  private push(event: (typeof this.events)[number]): void {
    this.events.push(event);
    this.wake?.();
  }

  /** The next event, or undefined when none came within the idle timeout. */
  private async next(): Promise<(typeof this.events)[number] | undefined> {
    while (this.events.length === 0) {
      const idle = await new Promise<boolean>((resolve) => {
        const timer = this.options.timers.setTimeout(() => resolve(true), this.options.idleTimeoutMs);
        this.wake = () => {
          timer.cancel();
          resolve(false);
        };
      });
      this.wake = undefined;
      if (idle) return undefined;
    }
    return this.events.shift()!;
  }
}

function announcement(chunk: raft_serverpb.SnapshotChunk): raft_serverpb.RaftMessage {
  const message = chunk.message;
  if (message?.message?.msgType !== eraftpb.MessageType.SNAPSHOT || message.message.snapshot === undefined) {
    throw invalid("the first chunk must carry the raft message of type SNAPSHOT announcing the snapshot");
  }
  return message;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function invalid(message: string): SnapshotRejection {
  return new SnapshotRejection(status.INVALID_ARGUMENT, message);
}
