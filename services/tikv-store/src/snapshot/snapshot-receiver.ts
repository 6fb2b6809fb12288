/**
 * Receives one snapshot stream into a staged file, validating every chunk as it arrives (SnapshotDecoder):
 * a malformed or truncated stream is rejected and leaves no file behind, and nothing reaches the kv engine
 * until `finish` verified the trailer's checksum and published the file.
 */
import { type FileHandle, open, rm } from "node:fs/promises";
import type { metapb, raft_serverpb } from "#proto";
import { InvariantError } from "#runtime";
import { SnapshotDecoder, SnapshotFormatError } from "./snapshot-codec.ts";
import { describeSnapshotKey, type SnapshotKey, type SnapshotStore } from "./snapshot-store.ts";

export interface ReceivedSnapshot {
  readonly key: SnapshotKey;
  readonly region: metapb.Region;
  readonly kvCount: number;
  readonly sizeBytes: number;
}

export interface SnapshotReceiverOptions {
  /** The whole stream may not exceed this (a bound on disk use per receive). */
  readonly maxSnapshotBytes?: number;
  readonly maxValueBytes?: number;
}

/** The default bound on one snapshot: above TiKV's 144 MiB max region size with room for overhead. */
export const DEFAULT_MAX_SNAPSHOT_BYTES = 512 * 1024 * 1024;

export class SnapshotTooLargeError extends Error {
  override readonly name = "SnapshotTooLargeError";
  constructor(
    readonly key: SnapshotKey,
    readonly maxSnapshotBytes: number,
  ) {
    super(`snapshot of ${describeSnapshotKey(key)} exceeds ${maxSnapshotBytes} bytes`);
  }
}

export class SnapshotReceiver {
  private readonly decoder: SnapshotDecoder;
  private readonly temporaryPath: string;
  private readonly maxSnapshotBytes: number;
  private file: FileHandle | undefined;
  private receivedBytes = 0;
  private kvCount = 0;
  private closed = false;

  constructor(
    private readonly store: SnapshotStore,
    readonly key: SnapshotKey,
    options: SnapshotReceiverOptions = {},
  ) {
    this.decoder = new SnapshotDecoder({
      expected: key,
      ...(options.maxValueBytes !== undefined && { maxValueBytes: options.maxValueBytes }),
    });
    this.temporaryPath = store.temporaryPath(key);
    this.maxSnapshotBytes = options.maxSnapshotBytes ?? DEFAULT_MAX_SNAPSHOT_BYTES;
  }

  /** Validates and stages one chunk. On any error the receive is aborted (temporary file removed). */
  async write(chunk: Uint8Array): Promise<void> {
    this.assertOpen();
    try {
      this.receivedBytes += chunk.length;
      if (this.receivedBytes > this.maxSnapshotBytes)
        throw new SnapshotTooLargeError(this.key, this.maxSnapshotBytes);
      for (const record of this.decoder.push(chunk)) if (record.kind === "kv") this.kvCount += 1;
      this.file ??= await open(this.temporaryPath, "w");
      await this.file.write(chunk);
    } catch (error) {
      await this.failWith(error);
    }
  }

  /** Verifies the stream is complete, then syncs and publishes the staged file. */
  async finish(): Promise<ReceivedSnapshot> {
    this.assertOpen();
    try {
      const header = this.decoder.end();
      const file = this.file!;
      await file.sync();
      await file.close();
      this.file = undefined;
      await this.store.publish(this.temporaryPath, this.key);
      this.closed = true;
      return { key: this.key, region: header.region, kvCount: this.kvCount, sizeBytes: this.receivedBytes };
    } catch (error) {
      return this.failWith(error);
    }
  }

  /** Drops everything received; safe to call more than once. The file goes even if closing it fails. */
  async abort(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const file = this.file;
    this.file = undefined;
    try {
      await file?.close();
    } finally {
      await rm(this.temporaryPath, { force: true });
    }
  }

  /** Aborts because of `failure` and throws it; when aborting fails too, both travel in one error. */
  async failWith(failure: unknown): Promise<never> {
    try {
      await this.abort();
    } catch (discarding) {
      throw new AggregateError(
        [failure, discarding],
        `receiving the snapshot of ${describeSnapshotKey(this.key)} failed, and so did discarding it`,
      );
    }
    throw failure;
  }

  private assertOpen(): void {
    // The receiver aborts itself on any failure; its caller must stop using it then.
    if (this.closed)
      throw new InvariantError(`snapshot receive of ${describeSnapshotKey(this.key)} is already closed`);
  }
}

/** The key a snapshot stream is staged under, from the raft message that announces it. */
export function snapshotKeyOf(message: raft_serverpb.RaftMessage): SnapshotKey {
  const metadata = message.message?.snapshot?.metadata;
  if (!metadata)
    throw new SnapshotFormatError(message.regionId, "the raft message carries no snapshot metadata");
  const tooLarge = BigInt(Number.MAX_SAFE_INTEGER);
  if (metadata.index > tooLarge || metadata.term > tooLarge) {
    throw new SnapshotFormatError(
      message.regionId,
      `index ${metadata.index} or term ${metadata.term} too large`,
    );
  }
  return { regionId: message.regionId, term: Number(metadata.term), index: Number(metadata.index) };
}

/** Receives a whole stream; on failure nothing is staged and the error is rethrown. */
export async function receiveSnapshot(
  store: SnapshotStore,
  key: SnapshotKey,
  chunks: AsyncIterable<Uint8Array>,
  options: SnapshotReceiverOptions = {},
): Promise<ReceivedSnapshot> {
  const receiver = new SnapshotReceiver(store, key, options);
  try {
    for await (const chunk of chunks) await receiver.write(chunk);
  } catch (error) {
    return receiver.failWith(error);
  }
  return receiver.finish();
}
