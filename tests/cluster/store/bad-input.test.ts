/**
 * Bad input over real gRPC against pd and three stores: every region error a store answers (each with the
 * fields a client needs to recover), malformed and oversized requests (a clear error, never a crash or a
 * write), a request for a tombstoned region, raft messages that must not create peers, and a snapshot
 * stream cut halfway (nothing applied; the follower recovers once snapshots get through).
 *
 * The stores run with tiny request limits and a proposal queue of a few entries, so the limits can be hit
 * with small requests.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { status } from "@grpc/grpc-js";
import { eraftpb, kvrpcpb, metapb, raft_serverpb, type tikvpb } from "#proto";
import { sleep } from "#runtime";
import type { GrpcRaftTransport } from "../../../services/tikv-store/src/server/raft-transport.ts";
import { bytes, text } from "../../../services/tikv-store/src/testing/bytes.ts";
import {
  checkReplicasConverge,
  waitEngineValue,
  waitPeerGone,
} from "../../../services/tikv-store/src/testing/cluster/cluster-checks.ts";
import {
  type RegionLeader,
  StoreCluster,
} from "../../../services/tikv-store/src/testing/cluster/store-cluster.ts";
import { contextFor, grpcCall, StoreClients } from "../../../services/tikv-store/src/testing/raw-rpc.ts";

const LIMITS = {
  maxKeyBytes: 64,
  maxEntryBytes: 16 * 1024,
  maxBatchKeys: 16,
  maxBatchBytes: 8 * 1024,
  maxScanLimit: 100,
};
const MAX_PENDING_PROPOSALS = 8;
const FLOOD_WRITES = 200;

// A guard against a hung cluster (it fails instead of blocking the suite), not a speed assertion.
describe("bad input over real gRPC", { timeout: 3 * 60_000 }, () => {
  let cluster: StoreCluster;
  const rpc = new StoreClients();
  /** The first region as it was before the split at "m". */
  let beforeSplit: metapb.Region;

  before(async () => {
    cluster = await StoreCluster.start({
      label: "bad input",
      stores: 3,
      transport: "grpc",
      store: { limits: LIMITS },
      raftstore: {
        raftEntryMaxSizeBytes: LIMITS.maxEntryBytes,
        maxPendingProposals: MAX_PENDING_PROPOSALS,
        raftLogGcCountLimit: 20,
        raftLogGcThreshold: 5,
        snapshotChunkSizeBytes: 1024,
      },
    });
    const client = await cluster.client();
    for (const key of ["a", "c", "n", "x"]) await client.put(bytes(key), bytes(`value of ${key}`));
    beforeSplit = (await cluster.waitLeaderOf(bytes("a"))).region;
    await cluster.split(bytes("m"));
  });

  after(async () => {
    rpc.close();
    await cluster?.close();
  });

  const storeClient = (index: number): tikvpb.TikvClient => rpc.for(cluster.server(index).address);

  const rawGet = (index: number, context: kvrpcpb.Context | undefined, key: Uint8Array) =>
    grpcCall<kvrpcpb.RawGetResponse>((done) => storeClient(index).rawGet({ context, key }, done));

  const rawPut = (index: number, context: kvrpcpb.Context | undefined, key: Uint8Array, value: Uint8Array) =>
    grpcCall<kvrpcpb.RawPutResponse>((done) => storeClient(index).rawPut({ context, key, value }, done));

  /** The leader of the region holding `key`, with its context. */
  const leaderContext = async (key: string): Promise<{ leader: RegionLeader; context: kvrpcpb.Context }> => {
    const leader = await cluster.waitLeaderOf(bytes(key));
    return { leader, context: contextFor(leader.region, leader.peer) };
  };

  describe("region errors", () => {
    it("NotLeader from a follower names the leader", async () => {
      await cluster.waitFor("a follower to name the current leader", async () => {
        const { leader } = await leaderContext("a");
        const follower = leader.region.peers.find((peer) => peer.id !== leader.peer.id)!;
        const response = await rawGet(
          cluster.indexOf(follower.storeId),
          contextFor(leader.region, follower),
          bytes("a"),
        );
        assert.ok(
          response.regionError?.notLeader,
          `expected NotLeader, got ${response.regionError?.message}`,
        );
        assert.equal(response.regionError.notLeader.regionId, leader.region.id);
        return response.regionError.notLeader.leader?.id === leader.peer.id;
      });
    });

    it("EpochNotMatch after a split carries the regions now covering the old range", async () => {
      const left = (await cluster.waitLeaderOf(bytes("a"))).region;
      const right = (await cluster.waitLeaderOf(bytes("x"))).region;
      // The parent's id lives on in one half; a request with the parent's old epoch goes to that half.
      const key = left.id === beforeSplit.id ? "a" : "x";
      const { leader } = await leaderContext(key);
      assert.equal(leader.region.id, beforeSplit.id, "neither half kept the parent's region id");
      const response = await rawGet(leader.index, contextFor(beforeSplit, leader.peer), bytes(key));
      const current = response.regionError?.epochNotMatch?.currentRegions;
      assert.ok(current, `expected EpochNotMatch, got ${response.regionError?.message}`);
      assert.deepEqual(new Set(current.map((region) => region.id)), new Set([left.id, right.id]));
      const returnedLeft = current.find((region) => region.id === left.id)!;
      const returnedRight = current.find((region) => region.id === right.id)!;
      assert.equal(returnedLeft.startKey.length, 0);
      assert.equal(text(returnedLeft.endKey), "m");
      assert.equal(text(returnedRight.startKey), "m");
      assert.equal(returnedRight.endKey.length, 0);
      for (const region of current)
        assert.ok((region.regionEpoch?.version ?? 0n) > (beforeSplit.regionEpoch?.version ?? 0n));
    });

    it("RegionNotFound for a region the store does not hold", async () => {
      const index = 0;
      const context = kvrpcpb.Context.fromPartial({
        regionId: 987_654_321n,
        regionEpoch: { confVer: 1n, version: 1n },
        peer: { id: 987_654_322n, storeId: cluster.storeId(index) },
      });
      const response = await rawGet(index, context, bytes("a"));
      assert.equal(response.regionError?.regionNotFound?.regionId, 987_654_321n);
    });

    it("KeyNotInRegion for a key outside the addressed region", async () => {
      const { leader, context } = await leaderContext("a");
      const response = await rawGet(leader.index, context, bytes("x"));
      const error = response.regionError?.keyNotInRegion;
      assert.ok(error, `expected KeyNotInRegion, got ${response.regionError?.message}`);
      assert.equal(text(error.key), "x");
      assert.equal(error.regionId, leader.region.id);
      assert.equal(text(error.endKey), "m");
    });

    it("StoreNotMatch for a request meant for another store", async () => {
      const { leader, context } = await leaderContext("a");
      const otherStoreId = cluster.storeId((leader.index + 1) % cluster.storeCount);
      const misdirected = { ...context, peer: { ...leader.peer, storeId: otherStoreId } };
      const response = await rawGet(leader.index, misdirected, bytes("a"));
      assert.deepEqual(response.regionError?.storeNotMatch, {
        requestStoreId: otherStoreId,
        actualStoreId: cluster.storeId(leader.index),
      });
    });

    it("MismatchPeerId for a peer id this store does not hold", async () => {
      const { leader, context } = await leaderContext("a");
      const response = await rawGet(
        leader.index,
        { ...context, peer: { ...leader.peer, id: leader.peer.id + 1_000n } },
        bytes("a"),
      );
      assert.equal(response.regionError?.mismatchPeerId?.storePeerId, leader.peer.id);
    });

    it("StaleCommand for a request from another leader term, and the write is not applied", async () => {
      const { leader, context } = await leaderContext("a");
      const stale = { ...context, term: leader.term + 100n };
      assert.ok((await rawGet(leader.index, stale, bytes("a"))).regionError?.staleCommand);
      assert.ok(
        (await rawPut(leader.index, stale, bytes("stale-term"), bytes("v"))).regionError?.staleCommand,
      );
      assert.equal(await (await cluster.client()).get(bytes("stale-term")), undefined);
    });

    it("RaftEntryTooLarge for a value no raft entry can hold, and nothing is written", async () => {
      const { leader, context } = await leaderContext("a");
      const response = await rawPut(
        leader.index,
        context,
        bytes("huge"),
        new Uint8Array(LIMITS.maxEntryBytes + 1),
      );
      const error = response.regionError?.raftEntryTooLarge;
      assert.ok(error, `expected RaftEntryTooLarge, got ${response.regionError?.message ?? response.error}`);
      assert.equal(error.regionId, leader.region.id);
      assert.ok(error.entrySize > BigInt(LIMITS.maxEntryBytes));
      assert.equal(await (await cluster.client()).get(bytes("huge")), undefined);
    });

    it("ServerIsBusy with a backoff when the proposal queue is full; refused writes are not applied", async () => {
      const { leader, context } = await leaderContext("x");
      const keys = Array.from({ length: FLOOD_WRITES }, (_, index) =>
        bytes(`z-flood-${String(index).padStart(4, "0")}`),
      );
      const responses = await Promise.all(keys.map((key) => rawPut(leader.index, context, key, bytes("v"))));
      const busy = responses.flatMap((response, index) =>
        response.regionError?.serverIsBusy === undefined
          ? []
          : [{ key: keys[index]!, busy: response.regionError.serverIsBusy }],
      );
      assert.ok(
        busy.length > 0,
        `${FLOOD_WRITES} concurrent writes never filled a queue of ${MAX_PENDING_PROPOSALS}: ${describeOutcomes(responses)}`,
      );
      for (const { busy: error } of busy)
        assert.ok(error.backoffMs > 0n, "ServerIsBusy without a backoff hint");
      const client = await cluster.client();
      for (const { key } of busy)
        assert.equal(await client.get(key), undefined, `refused write of ${text(key)} applied`);
      const accepted = responses.filter(
        (response) => response.regionError === undefined && response.error === "",
      );
      assert.ok(accepted.length > 0, "the store accepted none of the flood");
      await client.put(bytes("after-flood"), bytes("ok"));
      assert.equal(text(await client.get(bytes("after-flood"))), "ok");
    });
  });

  describe("malformed requests", () => {
    it("are answered with an error naming the problem, and write nothing", async () => {
      const { leader, context } = await leaderContext("a");
      const client = storeClient(leader.index);
      const tooLongKey = bytes("k".repeat(LIMITS.maxKeyBytes + 1));
      const cases: ReadonlyArray<[string, () => Promise<string>, RegExp]> = [
        ["no context", async () => (await rawGet(leader.index, undefined, bytes("a"))).error, /context/],
        [
          "empty key (get)",
          async () => (await rawGet(leader.index, context, new Uint8Array())).error,
          /empty/,
        ],
        [
          "empty key (put)",
          async () => (await rawPut(leader.index, context, new Uint8Array(), bytes("v"))).error,
          /empty/,
        ],
        [
          "key over the limit",
          async () => (await rawPut(leader.index, context, tooLongKey, bytes("v"))).error,
          /max-key-size/,
        ],
        [
          "scan with start > end",
          async () => {
            const response = await grpcCall<kvrpcpb.RawScanResponse>((done) =>
              client.rawScan(
                {
                  context,
                  startKey: bytes("c"),
                  endKey: bytes("b"),
                  limit: 10,
                  keyOnly: false,
                  reverse: false,
                },
                done,
              ),
            );
            return response.kvs[0]?.error?.abort ?? "";
          },
          /greater than/,
        ],
        [
          "batch with too many keys",
          async () => {
            const pairs = Array.from({ length: LIMITS.maxBatchKeys + 1 }, (_, index) => ({
              key: bytes(`b${index}`),
              value: bytes("v"),
            }));
            return (
              await grpcCall<kvrpcpb.RawBatchPutResponse>((done) =>
                client.rawBatchPut(kvrpcpb.RawBatchPutRequest.fromPartial({ context, pairs }), done),
              )
            ).error;
          },
          /max-batch-keys/,
        ],
        [
          "batch over the byte limit",
          async () => {
            const pairs = Array.from({ length: 10 }, (_, index) => ({
              key: bytes(`b${index}`),
              value: new Uint8Array(1024),
            }));
            return (
              await grpcCall<kvrpcpb.RawBatchPutResponse>((done) =>
                client.rawBatchPut(kvrpcpb.RawBatchPutRequest.fromPartial({ context, pairs }), done),
              )
            ).error;
          },
          /max-batch-size/,
        ],
        [
          "batch get with an empty key",
          async () => {
            const response = await grpcCall<kvrpcpb.RawBatchGetResponse>((done) =>
              client.rawBatchGet({ context, keys: [bytes("a"), new Uint8Array()] }, done),
            );
            return response.pairs[0]?.error?.abort ?? "";
          },
          /empty/,
        ],
      ];
      for (const [what, send, expected] of cases) {
        const error = await send();
        assert.match(error, expected, `${what}: answered ${JSON.stringify(error)}`);
      }
      const raw = await cluster.client();
      assert.equal(await raw.get(bytes("b0")), undefined, "a refused batch wrote something");
    });

    it("a malformed request inside BatchCommands gets its own error and the stream keeps serving", async () => {
      const { leader, context } = await leaderContext("a");
      const stream = storeClient(leader.index).batchCommands();
      const streamErrors: string[] = [];
      // Cancelling the stream at the end reports CANCELLED; anything else is the store failing the stream.
      stream.on("error", (error: { code?: number; message: string }) => {
        if (error.code !== status.CANCELLED) streamErrors.push(error.message);
      });
      try {
        const answers = new Map<bigint, tikvpb.BatchCommandsResponse_Response>();
        stream.on("data", (batch: tikvpb.BatchCommandsResponse) => {
          batch.requestIds.forEach((id, position) => {
            answers.set(id, batch.responses[position]!);
          });
        });
        stream.write({
          requestIds: [1n, 2n],
          requests: [
            { cmd: { $case: "rawGet", value: { context, key: new Uint8Array() } } },
            { cmd: { $case: "rawGet", value: { context, key: bytes("a") } } },
          ],
        });
        await cluster.waitFor("both answers on the stream", () => answers.size === 2, 10_000);
        const bad = answers.get(1n)?.cmd;
        const good = answers.get(2n)?.cmd;
        assert.equal(bad?.$case, "rawGet");
        assert.match(bad.$case === "rawGet" ? bad.value.error : "", /empty/);
        assert.equal(good?.$case === "rawGet" ? text(good.value.value) : undefined, "value of a");
        assert.deepEqual(streamErrors, []);
      } finally {
        stream.end();
        stream.cancel();
      }
    });
  });

  describe("raft traffic", () => {
    it("messages from an unknown region, with no sender, from a stale peer or for another store create nothing", async () => {
      const { leader } = await leaderContext("a");
      const index = (leader.index + 1) % cluster.storeCount;
      const running = cluster.store(index);
      const self = leader.region.peers.find((peer) => peer.storeId === running.storeId)!;
      const stranger = metapb.Peer.fromPartial({ id: 900_001n, storeId: leader.store.storeId });
      const reasons = ["region_not_found", "overlapping_region", "malformed", "stale_sender"];
      const dropsBefore = await Promise.all(reasons.map((reason) => droppedMessages(cluster, index, reason)));
      const message = (
        overrides: Partial<raft_serverpb.RaftMessage>,
        type: eraftpb.MessageType,
        toPeer: metapb.Peer,
      ) =>
        raft_serverpb.RaftMessage.fromPartial({
          regionId: 777_777n,
          fromPeer: stranger,
          toPeer,
          regionEpoch: { confVer: 1n, version: 1n },
          message: { msgType: type, to: toPeer.id, from: stranger.id, term: 3n, commit: 0n },
          ...overrides,
        });
      const newPeer = metapb.Peer.fromPartial({ id: 900_002n, storeId: running.storeId });
      await sendRaft(storeClient(index), [
        // Not a first message: an unknown region's append creates nothing.
        message({}, eraftpb.MessageType.APPEND, newPeer),
        // A first message, but its range covers regions this store holds.
        message(
          { startKey: new Uint8Array(), endKey: new Uint8Array() },
          eraftpb.MessageType.HEARTBEAT,
          newPeer,
        ),
        // No sender.
        message({ fromPeer: undefined }, eraftpb.MessageType.HEARTBEAT, newPeer),
        // A peer that is not a member of the real region, with an old epoch, campaigning.
        message(
          { regionId: leader.region.id, regionEpoch: { confVer: 0n, version: 0n } },
          eraftpb.MessageType.REQUEST_VOTE,
          self,
        ),
      ]);
      await cluster.waitFor(
        `the store to drop each message (${reasons.join(", ")})`,
        async () => {
          const drops = await Promise.all(reasons.map((reason) => droppedMessages(cluster, index, reason)));
          return drops.every((count, position) => count > dropsBefore[position]!);
        },
        5_000,
      );
      assert.ok(
        running.peers().every((peer) => peer.regionId !== 777_777n),
        "a peer was created for region 777777",
      );
      await assert.rejects(
        sendRaft(storeClient(index), [
          message({}, eraftpb.MessageType.HEARTBEAT, { ...newPeer, storeId: 424_242n }),
        ]),
        (error: { code?: number }) => error.code === status.FAILED_PRECONDITION,
      );
      // The region is undisturbed: same leader, still serving.
      assert.equal(cluster.leaderOfRegion(leader.region.id)?.peer.id, leader.peer.id);
      assert.equal(text(await (await cluster.client()).get(bytes("a"))), "value of a");
    });
  });

  describe("lifecycle", () => {
    it("a request for a region whose peer was removed from the store answers RegionNotFound", async () => {
      const { leader } = await leaderContext("a");
      const regionId = leader.region.id;
      const victim = leader.region.peers.find((peer) => peer.id !== leader.peer.id)!;
      const index = cluster.indexOf(victim.storeId);
      const oldContext = contextFor(leader.region, victim);
      await cluster.removePeer(regionId, index);
      await waitPeerGone(cluster, index, regionId);
      const response = await rawGet(index, { ...oldContext, replicaRead: true }, bytes("a"));
      assert.equal(response.regionError?.regionNotFound?.regionId, regionId);
      assert.equal(await cluster.engineGet(index, "a"), undefined, "the removed peer's data is still there");
      await cluster.addPeer(regionId, index);
      await waitEngineValue(cluster, index, "a", "value of a");
    });

    it("a snapshot stream cut halfway applies nothing; the follower recovers once snapshots get through", async () => {
      const { leader } = await leaderContext("x");
      const regionId = leader.region.id;
      const follower = leader.region.peers.find((peer) => peer.id !== leader.peer.id)!;
      const index = cluster.indexOf(follower.storeId);
      const cut = cutSnapshotStreams(cluster, follower.storeId);
      try {
        cluster.isolate(index);
        const client = await cluster.client();
        // More entries than the log keeps (raftLogGcCountLimit 20): the follower will need a snapshot.
        for (let write = 0; write < 40; write++) {
          await client.put(bytes(`snap-${String(write).padStart(3, "0")}`), new Uint8Array(600).fill(97));
        }
        const followerLastIndex = (await cluster.store(index).engines.raftLogStore.raftState(regionId))!
          .lastIndex;
        await cluster.waitFor("the leader to truncate its log past the follower's last entry", async () => {
          const current = cluster.leaderOfRegion(regionId);
          const first = await current?.store.engines.raftLogStore.firstStoredIndex(regionId);
          return first !== undefined && first > followerLastIndex + 1;
        });
        cluster.heal();
        await cluster.waitFor("a snapshot stream to the follower to be cut", () => cut.count >= 2);
        assert.equal(await cluster.engineGet(index, "snap-000"), undefined, "a cut snapshot was applied");
        const persisted = (await cluster.store(index).engines.kvEngine.loadRegions()).find(
          (region) => region.regionId === regionId,
        );
        assert.equal(
          persisted?.regionState.state,
          raft_serverpb.PeerState.NORMAL,
          "the follower was left mid-apply",
        );
        // The receiver counts a broken stream once it has discarded what it staged (in its next turn).
        await cluster.waitFor(
          "the follower to count a broken snapshot stream",
          async () => (await receiveFailures(cluster, index)) >= 1,
        );
      } finally {
        cut.restore();
        cluster.heal();
      }
      await waitEngineValue(cluster, index, "snap-039", "a".repeat(600));
      await checkReplicasConverge(cluster);
    });
  });
});

/** Sends raw raft messages on one BatchRaft stream and ends it; rejects with the stream's error. */
function sendRaft(client: tikvpb.TikvClient, messages: readonly raft_serverpb.RaftMessage[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const call = client.batchRaft((error) => (error ? reject(error) : resolve()));
    call.write({ msgs: [...messages] });
    // Give the store a moment to read the item before the stream ends (it answers only at the end).
    setTimeout(() => call.end(), 100);
  });
}

function droppedMessages(cluster: StoreCluster, index: number, reason: string): Promise<number> {
  return cluster.counter(index, "store_raftstore_raft_messages_dropped_total", { reason });
}

function receiveFailures(cluster: StoreCluster, index: number): Promise<number> {
  return cluster.counter(index, "store_transport_snapshots_total", {
    direction: "receive",
    outcome: "failed",
  });
}

/**
 * Makes every running store cut its snapshot streams to `toStoreId` after the first chunk, until
 * `restore`. The stream is cut the way a crashed sender or a broken connection cuts it: the data source
 * fails mid-stream and the call is cancelled. (Fault injection by replacing the transport's method on the
 * instance: the transport filters can drop or delay a snapshot, but not break one halfway.)
 */
function cutSnapshotStreams(
  cluster: StoreCluster,
  toStoreId: bigint,
): { readonly count: number; restore(): void } {
  const state = { count: 0 };
  const patched: Array<{ transport: GrpcRaftTransport; original: GrpcRaftTransport["sendSnapshot"] }> = [];
  for (const index of cluster.runningIndexes()) {
    const transport = cluster.server(index).transport;
    const original = transport.sendSnapshot;
    patched.push({ transport, original });
    transport.sendSnapshot = (storeId, message, chunks) => {
      if (storeId !== toStoreId) return original.call(transport, storeId, message, chunks);
      state.count++;
      return original.call(transport, storeId, message, firstChunkThenFail(chunks));
    };
  }
  return {
    get count() {
      return state.count;
    },
    restore() {
      for (const { transport, original } of patched) transport.sendSnapshot = original;
    },
  };
}

async function* firstChunkThenFail(chunks: AsyncIterable<Uint8Array>): AsyncIterable<Uint8Array> {
  for await (const chunk of chunks) {
    yield chunk;
    break;
  }
  // Let the first chunk reach the receiver before the stream breaks.
  await sleep(50);
  throw new Error("test fault: the snapshot stream was cut halfway");
}

/** "ok×8 serverIsBusy×192": what a batch of write responses said. */
function describeOutcomes(responses: readonly kvrpcpb.RawPutResponse[]): string {
  const counts = new Map<string, number>();
  for (const response of responses) {
    const error = response.regionError;
    const kind =
      error === undefined
        ? response.error === ""
          ? "ok"
          : `error "${response.error}"`
        : (Object.entries(error).find(([field, value]) => field !== "message" && value !== undefined)?.[0] ??
          "region error");
    counts.set(kind, (counts.get(kind) ?? 0) + 1);
  }
  return [...counts].map(([kind, count]) => `${kind}×${count}`).join(" ");
}
