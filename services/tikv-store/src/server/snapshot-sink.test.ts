/**
 * The Snapshot stream feeding the real snapshot receiver (snapshot/snapshot-receiver.ts) over real gRPC:
 * a whole stream is staged, a stream cut halfway or ended early stages nothing.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, beforeEach, describe, test } from "node:test";
import { setTimeout as delay } from "node:timers/promises";
import { Server, ServerCredentials } from "@grpc/grpc-js";
import { eraftpb, metapb, type raft_serverpb, tikvpb } from "#proto";
import { systemTimers } from "#runtime";
import { rawDataKey } from "../engine/keys.ts";
import type { SnapshotData } from "../raftstore/store.ts";
import { SnapshotEncoder } from "../snapshot/snapshot-codec.ts";
import { receiveSnapshot } from "../snapshot/snapshot-receiver.ts";
import { SnapshotStore } from "../snapshot/snapshot-store.ts";
import { testRaftMessage } from "../testing/raft-message-fixture.ts";
import { TEST_MAX_MESSAGE_BYTES } from "../testing/recording-raft-server.ts";
import { waitFor } from "../testing/wait-for.ts";
import { createTikvClient } from "./grpc-options.ts";
import { raftstoreSnapshotSink } from "./snapshot-sink.ts";
import { createSnapshotHandler, type SnapshotHandler, sendSnapshotChunks } from "./snapshot-stream.ts";

const REGION = metapb.Region.fromPartial({
  id: 3n,
  startKey: Buffer.from("a"),
  endKey: Buffer.from("z"),
  regionEpoch: { confVer: 1n, version: 1n },
  peers: [{ id: 31n, storeId: 1n }],
});
const KEY = { regionId: 3n, index: 40, term: 6 };

function snapshotChunks(): Uint8Array[] {
  const encoder = new SnapshotEncoder(256);
  encoder.header({ ...KEY, region: REGION });
  for (let index = 0; index < 50; index++) {
    encoder.keyValue("default", rawDataKey(Buffer.from(`key-${index}`)), Buffer.alloc(40, index));
  }
  encoder.trailer();
  return encoder.takeChunks();
}

function announcement(): raft_serverpb.RaftMessage {
  const message = testRaftMessage({
    regionId: 3n,
    fromStoreId: 2n,
    toStoreId: 1n,
    type: eraftpb.MessageType.SNAPSHOT,
  });
  message.message!.snapshot = eraftpb.Snapshot.fromPartial({ metadata: { index: 40n, term: 6n } });
  return message;
}

async function* upTo(chunks: readonly Uint8Array[], count: number, failAtEnd?: () => Promise<void>) {
  yield* chunks.slice(0, count);
  if (failAtEnd === undefined) return;
  await failAtEnd();
  throw new Error("the sender crashed");
}

describe("snapshot stream into the snapshot receiver", () => {
  const directory = mkdtempSync(join(tmpdir(), "tessera-snapshot-sink-"));
  let snapshotStore: SnapshotStore;
  let server: Server;
  let handler: SnapshotHandler;
  let client: tikvpb.TikvClient;
  let staged: Promise<unknown> | undefined;
  /** What the store does once the stream is staged (the raftstore queues it for raft). */
  let afterStaging: () => Promise<void> = async () => undefined;

  before(async () => {
    snapshotStore = await SnapshotStore.open(directory);
    const taker = {
      async onSnapshotReceived(_message: raft_serverpb.RaftMessage, data: SnapshotData) {
        staged = receiveSnapshot(snapshotStore, KEY, data as AsyncIterable<Uint8Array>);
        staged.catch(() => undefined);
        await staged;
        await afterStaging();
      },
    };
    server = new Server();
    handler = createSnapshotHandler({
      sink: raftstoreSnapshotSink(taker),
      maxConcurrentReceives: 1,
      idleTimeoutMs: 60_000,
      timers: systemTimers,
    });
    server.addService(tikvpb.TikvService, { snapshot: handler });
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (error, bound) =>
        error ? reject(error) : resolve(bound),
      ),
    );
    client = createTikvClient(`127.0.0.1:${port}`, TEST_MAX_MESSAGE_BYTES);
  });

  after(() => {
    client?.close();
    server?.forceShutdown();
    rmSync(directory, { recursive: true, force: true });
  });

  beforeEach(async () => {
    await snapshotStore.delete(KEY);
    staged = undefined;
    afterStaging = async () => undefined;
  });

  const send = (chunks: AsyncIterable<Uint8Array>) =>
    sendSnapshotChunks({ client, message: announcement(), chunks, signal: new AbortController().signal });

  test("a whole stream is staged", async () => {
    const chunks = snapshotChunks();
    await send(upTo(chunks, chunks.length));
    await staged;
    assert.equal(await snapshotStore.has(KEY), true);
  });

  test("the sender is answered only once the store has staged the snapshot", async () => {
    const chunks = snapshotChunks();
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let storeDone = false;
    afterStaging = async () => {
      await held;
      storeDone = true;
    };
    let answered = false;
    const sending = send(upTo(chunks, chunks.length)).then(() => {
      answered = true;
    });
    await waitFor("the receiver to start staging", () => staged !== undefined);
    await staged;
    // Time for an answer to travel back, were one sent.
    await delay(50);
    assert.equal(answered, false, "answered before the store finished with the snapshot");
    release();
    await sending;
    assert.ok(storeDone);
  });

  test("a snapshot the store refuses after receiving it fails the sender", async () => {
    afterStaging = async () => {
      throw new Error("the peer went away while the snapshot was received");
    };
    const chunks = snapshotChunks();
    await assert.rejects(send(upTo(chunks, chunks.length)), /the peer went away/);
  });

  test("a corrupt stream fails the sender and stages nothing", async () => {
    const chunks = snapshotChunks();
    const corrupt = chunks.map((chunk, index) =>
      index === 2 ? Uint8Array.from(chunk, (byte, position) => (position === 10 ? byte ^ 1 : byte)) : chunk,
    );
    await assert.rejects(send(upTo(corrupt, corrupt.length)), /malformed|checksum/);
    assert.deepEqual(await snapshotStore.list(), []);
  });

  test("a stream cut halfway stages nothing", async () => {
    const chunks = snapshotChunks();
    // The sender crashes once the receiver is staging, so there is a partial snapshot to throw away.
    const receiving = () => waitFor("the receiver to start staging", () => staged !== undefined);
    await assert.rejects(send(upTo(chunks, Math.floor(chunks.length / 2), receiving)));
    await assert.rejects(staged!);
    assert.deepEqual(await snapshotStore.list(), []);
  });

  test("a stream that ends early without its trailer fails the sender and stages nothing", async () => {
    const chunks = snapshotChunks();
    await assert.rejects(send(upTo(chunks, chunks.length - 1)), /ends early|malformed/);
    await assert.rejects(staged!, /ends early|malformed/);
    assert.deepEqual(await snapshotStore.list(), []);
  });

  // Last: it closes the shared handler.
  test("close ends a reception in flight (UNAVAILABLE, nothing staged) and refuses later streams", async () => {
    const chunks = snapshotChunks();
    const answer = (): [Promise<string>, ReturnType<tikvpb.TikvClient["snapshot"]>] => {
      let call!: ReturnType<tikvpb.TikvClient["snapshot"]>;
      const details = new Promise<string>((resolve) => {
        call = client.snapshot((error) => resolve(error === null ? "accepted" : error.details));
      });
      return [details, call];
    };
    const [inFlight, call] = answer();
    call.write({ message: announcement(), data: chunks[0]! });
    call.write({ message: undefined, data: chunks[1]! });
    await waitFor("the receiver to start staging", () => staged !== undefined);
    await handler.close();
    assert.match(await inFlight, /closing/);
    await assert.rejects(staged!);
    assert.deepEqual(await snapshotStore.list(), []);
    const [later, laterCall] = answer();
    laterCall.write({ message: announcement(), data: chunks[0]! });
    assert.match(await later, /closing/);
  });
});
