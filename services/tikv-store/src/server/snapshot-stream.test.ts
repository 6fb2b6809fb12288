import assert from "node:assert/strict";
import { afterEach, describe, test } from "node:test";
import { eraftpb, type raft_serverpb } from "#proto";
import { SeededRandom, systemClock, systemTimers } from "#runtime";
import { MapStoreResolver } from "../testing/map-store-resolver.ts";
import { testRaftMessage } from "../testing/raft-message-fixture.ts";
import {
  RecordingRaftServer,
  RecordingSnapshotSink,
  TEST_MAX_MESSAGE_BYTES,
} from "../testing/recording-raft-server.ts";
import { silentLogger, testMetrics } from "../testing/silent-observability.ts";
import { partition } from "../testing/transport-filters.ts";
import { waitFor } from "../testing/wait-for.ts";
import { createTikvClient } from "./grpc-options.ts";
import { GrpcRaftTransport } from "./raft-transport.ts";
import { SnapshotSendError } from "./snapshot-stream.ts";

const PEER_STORE = 2n;
const CHUNK_BYTES = 1000;
const CHUNK_COUNT = 6;

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function snapshotMessage(regionId = 1n): raft_serverpb.RaftMessage {
  const message = testRaftMessage({
    regionId,
    fromStoreId: 1n,
    toStoreId: PEER_STORE,
    type: eraftpb.MessageType.SNAPSHOT,
  });
  message.message!.snapshot = eraftpb.Snapshot.fromPartial({ metadata: { index: 10n, term: 2n } });
  return message;
}

function chunk(index: number): Uint8Array {
  return new Uint8Array(CHUNK_BYTES).fill(index);
}

async function* chunks(
  options: { failAfter?: number; beforeFailing?: () => Promise<void>; released?: () => void } = {},
) {
  try {
    for (let index = 0; index < CHUNK_COUNT; index++) {
      if (index === options.failAfter) {
        await options.beforeFailing?.();
        throw new Error("the snapshot generator failed");
      }
      yield chunk(index);
    }
  } finally {
    options.released?.();
  }
}

async function setUp(snapshotIdleTimeoutMs?: number) {
  const sink = new RecordingSnapshotSink(CHUNK_BYTES * CHUNK_COUNT);
  const peer = await RecordingRaftServer.start(PEER_STORE, sink, 0, snapshotIdleTimeoutMs);
  cleanups.push(() => peer.kill());
  const resolver = new MapStoreResolver();
  resolver.addresses.set(PEER_STORE, peer.address);
  const transport = new GrpcRaftTransport({
    resolver,
    maxQueuedMessages: 64,
    maxBatchBytes: 1024 * 1024,
    maxMessageBytes: TEST_MAX_MESSAGE_BYTES,
    backoff: { baseMs: 10, capMs: 100 },
    clock: systemClock,
    timers: systemTimers,
    random: new SeededRandom(3n),
    logger: silentLogger(),
    metrics: testMetrics().transport,
  });
  cleanups.push(() => transport.close());
  return { sink, peer, transport };
}

describe("snapshot stream", () => {
  test("a whole snapshot arrives in order and is finished exactly once", async () => {
    const { sink, transport } = await setUp();
    await transport.sendSnapshot(PEER_STORE, snapshotMessage(), chunks());
    assert.equal(sink.snapshots.length, 1);
    const [received] = sink.snapshots;
    assert.equal(received!.outcome, "finished");
    assert.equal(received!.message.regionId, 1n);
    assert.deepEqual(
      received!.chunks.map((data) => data[0]),
      Array.from({ length: CHUNK_COUNT }, (_, index) => index),
    );
  });

  test("a sender that fails halfway cuts the stream: the receiver aborts and finishes nothing", async () => {
    const { sink, transport } = await setUp();
    // The failure comes once the receiver holds part of the snapshot, so there is something to abort.
    const beforeFailing = () => waitFor("3 chunks received", () => sink.snapshots[0]?.chunks.length === 3);
    await assert.rejects(
      transport.sendSnapshot(PEER_STORE, snapshotMessage(), chunks({ failAfter: 3, beforeFailing })),
      SnapshotSendError,
    );
    await waitFor("the reception to be aborted", () => sink.snapshots[0]?.outcome === "aborted");
    assert.ok(sink.snapshots.every((snapshot) => snapshot.outcome !== "finished"));
  });

  test("a stream cancelled after some chunks is aborted", async () => {
    const { sink, peer } = await setUp();
    const client = createTikvClient(peer.address, TEST_MAX_MESSAGE_BYTES);
    cleanups.push(() => client.close());
    const call = client.snapshot(() => undefined);
    call.write({ message: snapshotMessage(), data: chunk(0) });
    call.write({ message: undefined, data: chunk(1) });
    await waitFor("two chunks received", () => (sink.snapshots[0]?.chunks.length ?? 0) === 2);
    call.cancel();
    await waitFor("the reception to be aborted", () => sink.snapshots[0]?.outcome === "aborted");
  });

  test("a sender that stalls without failing is cut off after the idle timeout, freeing its slot", async () => {
    const { sink, peer } = await setUp(200);
    const client = createTikvClient(peer.address, TEST_MAX_MESSAGE_BYTES);
    cleanups.push(() => client.close());
    const answer = new Promise<Error | null>((resolve) => {
      const call = client.snapshot((error) => resolve(error));
      call.write({ message: snapshotMessage(), data: chunk(0) });
      // ...and nothing more: the stream stays open.
    });
    const error = await answer;
    assert.match(String(error?.message), /no snapshot chunk arrived for 200 ms/);
    assert.equal(sink.snapshots[0]?.outcome, "aborted");
    // Both receive slots are free again: two new snapshots are taken (a third would be refused).
    const open = [client.snapshot(() => undefined), client.snapshot(() => undefined)];
    for (const call of open) call.write({ message: snapshotMessage(), data: chunk(0) });
    await waitFor("two more receptions", () => sink.snapshots.length === 3);
    for (const call of open) call.cancel();
  });

  test("a stream that ends early is refused by the sink's verification and the sender sees it", async () => {
    const { sink, peer } = await setUp();
    const client = createTikvClient(peer.address, TEST_MAX_MESSAGE_BYTES);
    cleanups.push(() => client.close());
    const answer = new Promise<Error | null>((resolve) => {
      const call = client.snapshot((error) => resolve(error));
      call.write({ message: snapshotMessage(), data: chunk(0) });
      call.end();
    });
    const error = await answer;
    assert.match(String(error?.message), /1000 of 6000 bytes/);
    assert.equal(sink.snapshots[0]?.outcome, "aborted");
  });

  test("a first chunk without a SNAPSHOT message is refused before the sink sees anything", async () => {
    const { sink, peer } = await setUp();
    const client = createTikvClient(peer.address, TEST_MAX_MESSAGE_BYTES);
    cleanups.push(() => client.close());
    const heartbeat = testRaftMessage({ regionId: 1n, fromStoreId: 1n, toStoreId: PEER_STORE });
    const error = await new Promise<Error | null>((resolve) => {
      const call = client.snapshot((failure) => resolve(failure));
      call.write({ message: heartbeat, data: chunk(0) });
      call.end();
    });
    assert.match(String(error?.message), /first chunk must carry the raft message of type SNAPSHOT/);
    assert.equal(sink.snapshots.length, 0);
  });

  test("receives beyond the concurrency limit are refused with RESOURCE_EXHAUSTED", async () => {
    const { sink, peer } = await setUp();
    const client = createTikvClient(peer.address, TEST_MAX_MESSAGE_BYTES);
    cleanups.push(() => client.close());
    const open = [client.snapshot(() => undefined), client.snapshot(() => undefined)];
    for (const call of open) call.write({ message: snapshotMessage(), data: chunk(0) });
    await waitFor("two receptions", () => sink.snapshots.length === 2);
    const error = await new Promise<Error | null>((resolve) => {
      const call = client.snapshot((failure) => resolve(failure));
      call.write({ message: snapshotMessage(), data: chunk(0) });
    });
    assert.match(String(error?.message), /already receiving 2 snapshots/);
    for (const call of open) call.cancel();
  });

  test("a snapshot dropped by a filter fails at once and releases the generator", async () => {
    const { sink, transport } = await setUp();
    transport.addFilter(partition([[1n], [PEER_STORE]]));
    let released = false;
    const generator = chunks({ released: () => (released = true) });
    // Starts the generator, as a raftstore that produced the first chunk before sending would have.
    await generator.next();
    await assert.rejects(
      transport.sendSnapshot(PEER_STORE, snapshotMessage(), generator),
      /dropped by a transport filter/,
    );
    assert.ok(released, "the generator was left suspended");
    assert.equal(sink.snapshots.length, 0);
  });
});
