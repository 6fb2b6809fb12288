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
import { delayMatching, dropMatching, partition } from "../testing/transport-filters.ts";
import { waitFor } from "../testing/wait-for.ts";
import { GrpcRaftTransport } from "./raft-transport.ts";

const LOCAL_STORE = 1n;
const PEER_STORE = 2n;

interface Harness {
  readonly transport: GrpcRaftTransport;
  readonly resolver: MapStoreResolver;
  readonly unreachable: Array<{ regionId: bigint; toPeerId: bigint }>;
}

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function startPeer(
  storeId = PEER_STORE,
  sink = new RecordingSnapshotSink(0),
): Promise<RecordingRaftServer> {
  const server = await RecordingRaftServer.start(storeId, sink);
  cleanups.push(() => server.kill());
  return server;
}

function startTransport(
  options: { maxQueuedMessages?: number; maxBatchBytes?: number; resolver?: MapStoreResolver } = {},
): Harness {
  const resolver = options.resolver ?? new MapStoreResolver();
  const unreachable: Harness["unreachable"] = [];
  const transport = new GrpcRaftTransport({
    resolver,
    maxQueuedMessages: options.maxQueuedMessages ?? 1024,
    maxBatchBytes: options.maxBatchBytes ?? 1024 * 1024,
    maxMessageBytes: TEST_MAX_MESSAGE_BYTES,
    backoff: { baseMs: 10, capMs: 100 },
    connectTimeoutMs: 500,
    clock: systemClock,
    timers: systemTimers,
    random: new SeededRandom(7n),
    logger: silentLogger(),
    metrics: testMetrics().transport,
  });
  transport.attach({ reportUnreachable: (regionId, toPeerId) => unreachable.push({ regionId, toPeerId }) });
  cleanups.push(() => transport.close());
  return { transport, resolver, unreachable };
}

const message = (index: bigint, regionId = 1n, type?: eraftpb.MessageType) =>
  testRaftMessage({ regionId, fromStoreId: LOCAL_STORE, toStoreId: PEER_STORE, index, type });

const indexes = (messages: readonly raft_serverpb.RaftMessage[]) =>
  messages.map((received) => received.message?.index);

describe("raft transport over gRPC", () => {
  test("on an open stream each send becomes one BatchRaft item, delivered in order", async () => {
    const peer = await startPeer();
    const { transport, resolver } = startTransport();
    resolver.addresses.set(PEER_STORE, peer.address);
    transport.send(PEER_STORE, [message(0n)]);
    await waitFor("the stream to open", () => peer.messages().length === 1);

    transport.send(PEER_STORE, [message(1n), message(2n, 2n), message(3n, 3n)]);
    transport.send(PEER_STORE, [message(4n)]);

    await waitFor("5 messages", () => peer.messages().length === 5);
    assert.deepEqual(indexes(peer.messages()), [0n, 1n, 2n, 3n, 4n]);
    assert.deepEqual(peer.received.map(indexes), [[0n], [1n, 2n, 3n], [4n]]);
  });

  test("sends made while the stream opens are queued and flushed together", async () => {
    const peer = await startPeer();
    const { transport, resolver } = startTransport();
    resolver.addresses.set(PEER_STORE, peer.address);

    transport.send(PEER_STORE, [message(1n), message(2n)]);
    transport.send(PEER_STORE, [message(3n)]);

    await waitFor("3 messages", () => peer.messages().length === 3);
    assert.deepEqual(peer.received.map(indexes), [[1n, 2n, 3n]]);
  });

  test("a batch over maxBatchBytes is split into several items, none lost", async () => {
    const peer = await startPeer();
    const { transport, resolver } = startTransport({ maxBatchBytes: 1000 });
    resolver.addresses.set(PEER_STORE, peer.address);
    const withEntry = (index: bigint) => {
      const big = message(index);
      big.message!.entries = [eraftpb.Entry.fromPartial({ index, data: new Uint8Array(400) })];
      return big;
    };

    transport.send(PEER_STORE, [withEntry(1n), withEntry(2n), withEntry(3n), withEntry(4n)]);

    await waitFor("4 messages", () => peer.messages().length === 4);
    assert.deepEqual(indexes(peer.messages()), [1n, 2n, 3n, 4n]);
    assert.ok(peer.received.length >= 2, "the batch was not split");
    assert.ok(peer.received.every((item) => item.length <= 2));
  });

  test("send-side filters drop by type and partition; clearing them heals the link", async () => {
    const peer = await startPeer();
    const { transport, resolver } = startTransport();
    resolver.addresses.set(PEER_STORE, peer.address);

    transport.addFilter(dropMatching({ types: [eraftpb.MessageType.APPEND] }));
    transport.send(PEER_STORE, [message(1n, 1n, eraftpb.MessageType.APPEND), message(2n)]);
    transport.addFilter(partition([[LOCAL_STORE], [PEER_STORE]]));
    transport.send(PEER_STORE, [message(3n)]);
    transport.clearFilters();
    transport.send(PEER_STORE, [message(4n, 1n, eraftpb.MessageType.APPEND)]);

    // One stream keeps order, so once 4 arrived, 1 and 3 would have arrived before it had they been sent.
    await waitFor("message 4", () => indexes(peer.messages()).includes(4n));
    assert.deepEqual(indexes(peer.messages()), [2n, 4n]);
  });

  test("receive-side filters act in the receiving store", async () => {
    const peer = await startPeer();
    const { transport, resolver } = startTransport();
    resolver.addresses.set(PEER_STORE, peer.address);
    peer.filters.add(dropMatching({ regionId: 9n, side: "receive" }));

    transport.send(PEER_STORE, [message(1n, 9n), message(2n, 1n)]);

    await waitFor("message 2", () => peer.messages().length === 1);
    transport.send(PEER_STORE, [message(3n, 1n)]);
    await waitFor("message 3", () => peer.messages().length === 2);
    assert.deepEqual(indexes(peer.messages()), [2n, 3n]);
  });

  test("a delay filter holds a message back but still delivers it", async () => {
    const peer = await startPeer();
    const { transport, resolver } = startTransport();
    resolver.addresses.set(PEER_STORE, peer.address);
    transport.addFilter(delayMatching(50, { regionId: 5n }));

    transport.send(PEER_STORE, [message(1n, 5n), message(2n, 1n)]);

    await waitFor("both messages", () => peer.messages().length === 2);
    assert.deepEqual(indexes(peer.messages()), [2n, 1n], "the undelayed message overtook the delayed one");
  });

  test("a peer that restarts elsewhere: reported unreachable, re-resolved, reconnected", async () => {
    const first = await startPeer();
    const { transport, resolver, unreachable } = startTransport();
    resolver.addresses.set(PEER_STORE, first.address);
    transport.send(PEER_STORE, [message(1n, 1n)]);
    await waitFor("first delivery", () => first.messages().length === 1);

    first.kill();
    // Sends like raft's heartbeats until the broken stream is noticed and region 1 reported.
    await waitFor("region 1 reported unreachable", () => {
      transport.send(PEER_STORE, [message(2n, 1n)]);
      return unreachable.some((report) => report.regionId === 1n && report.toPeerId === 102n);
    });
    const second = await startPeer();
    resolver.addresses.set(PEER_STORE, second.address);
    const resolvesBefore = resolver.resolves;
    await waitFor("delivery to the restarted peer", () => {
      transport.send(PEER_STORE, [message(3n, 1n)]);
      return second.messages().length > 0;
    });
    assert.ok(resolver.resolves > resolvesBefore, "the address was not looked up again");
    assert.ok(resolver.invalidations > 0);
    assert.ok(indexes(second.messages()).every((index) => index === 2n || index === 3n));
  });

  test("an unresolvable store is reported unreachable for every region queued to it", async () => {
    const { transport, unreachable } = startTransport();
    transport.send(PEER_STORE, [message(1n, 1n), message(2n, 2n)]);
    await waitFor("two reports", () => unreachable.length >= 2);
    assert.deepEqual(new Set(unreachable.map((report) => report.regionId)), new Set([1n, 2n]));
  });

  test("a full queue drops the oldest messages, keeping the newest", async () => {
    const peer = await startPeer();
    const { transport, resolver } = startTransport({ maxQueuedMessages: 3 });
    // Queued while the address is being resolved: the first flush happens after all sends.
    resolver.addresses.set(PEER_STORE, peer.address);
    transport.send(PEER_STORE, [message(1n), message(2n), message(3n), message(4n), message(5n)]);
    await waitFor("3 messages", () => peer.messages().length === 3);
    assert.deepEqual(indexes(peer.messages()), [3n, 4n, 5n]);
  });

  test("a message for another store fails the stream so the sender re-resolves", async () => {
    const wrongStore = await startPeer(3n);
    const { transport, resolver } = startTransport();
    resolver.addresses.set(PEER_STORE, wrongStore.address);
    transport.send(PEER_STORE, [message(1n)]);
    await waitFor("an invalidation", () => resolver.invalidations > 0);
    assert.equal(wrongStore.messages().length, 0);
  });

  test("messages sent after close are dropped without error", async () => {
    const { transport } = startTransport();
    await transport.close();
    transport.send(PEER_STORE, [message(1n)]);
  });

  test("close ends a connection attempt still waiting for the store's address", async () => {
    class NeverAnswering extends MapStoreResolver {
      override resolve(): Promise<string> {
        this.resolves++;
        return new Promise<string>(() => {});
      }
    }
    const { transport, resolver } = startTransport({ resolver: new NeverAnswering() });
    transport.send(PEER_STORE, [message(1n)]);
    assert.equal(resolver.resolves, 1);
    await transport.close();
  });
});
