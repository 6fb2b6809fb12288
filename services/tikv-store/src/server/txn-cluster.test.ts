/**
 * Percolator transactions on three stores over real gRPC (stores, pd and the deadlock detector service
 * in-process, every call a socket round trip): transactions across regions while a region splits and its
 * leader moves, locks and versions surviving a store's crash and its catch-up by snapshot, a pessimistic
 * lock waiter woken by the holder's commit or rollback, and a two-transaction cycle broken by a deadlock
 * error.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { kvrpcpb } from "#proto";
import { TXN_DATA_PREFIX } from "../engine/keys.ts";
import { DATA_COLUMN_FAMILIES } from "../engine/kv-engine.ts";
import { bytes, text } from "../testing/bytes.ts";
import { StoreCluster } from "../testing/cluster/store-cluster.ts";
import { grpcCall, StoreClients } from "../testing/raw-rpc.ts";
import { TxnRpc } from "../testing/txn-rpc.ts";

const put = (key: string, value: string): kvrpcpb.Mutation => ({
  op: kvrpcpb.Op.PUT,
  key: bytes(key),
  value: bytes(value),
});
const LOG_GC = { raftLogGcThreshold: 5, raftLogGcCountLimit: 20, raftLogGcTickMs: 50 };

describe("transactions on a gRPC cluster", () => {
  let cluster: StoreCluster;
  let rpc: TxnRpc;
  const tso = () => cluster.pdClient.getTimestamp();

  before(async () => {
    cluster = await StoreCluster.start({
      label: "txn cluster",
      stores: 3,
      transport: "grpc",
      raftstore: LOG_GC,
    });
    rpc = new TxnRpc(cluster);
  });

  after(async () => {
    rpc?.close();
    await cluster?.close();
  });

  test("a transaction across regions commits through a split between its phases and a leader transfer", async () => {
    await cluster.split(bytes("m"));
    const startTs = await tso();
    assert.deepEqual(
      await rpc.prewrite([put("a1", "A"), put("p1", "P"), put("x1", "X")], bytes("a1"), startTs),
      [],
    );
    // The region holding p1 and x1 splits while they are locked, and the new region's leader moves.
    const [, right] = await cluster.split(bytes("t"));
    const current = cluster.leaderOfRegion(right.id);
    await cluster.transferLeader(right.id, ((current?.index ?? 0) + 1) % 3);
    assert.equal((await rpc.scanLocks(bytes("x1"), startTs)).length, 1, "the lock moved with its region");
    assert.equal((await rpc.scanLocks(bytes("p1"), startTs)).length, 1);
    const reader = await rpc.get(bytes("x1"), await tso());
    assert.equal(reader.error?.locked?.lockTs, startTs, "a reader meets the lock");
    const commitTs = await tso();
    assert.equal(await rpc.commit([bytes("a1")], startTs, commitTs), undefined);
    assert.equal(await rpc.commit([bytes("p1"), bytes("x1")], startTs, commitTs), undefined);
    const readTs = await tso();
    for (const [key, value] of [
      ["a1", "A"],
      ["p1", "P"],
      ["x1", "X"],
    ] as const) {
      assert.equal(text((await rpc.get(bytes(key), readTs)).value), value);
      assert.equal((await rpc.get(bytes(key), startTs)).notFound, true, "invisible before the commit");
    }
  });

  test("locks and versions survive a crashed store, which catches up by snapshot with the same data", async () => {
    const startTs = await tso();
    const long = "v".repeat(400);
    assert.deepEqual(
      await rpc.prewrite([put("c-primary", long), put("c-second", "s")], bytes("c-primary"), startTs),
      [],
    );
    const region = cluster.regionFor(bytes("c-primary"))!;
    const follower = [0, 1, 2].find((index) => cluster.leaderOfRegion(region.id)?.index !== index)!;
    // What the follower's log holds at most when it stops.
    const followerLastIndex = (await cluster.store(follower).engines.raftLogStore.raftState(region.id))!
      .lastIndex;
    await cluster.stop(follower);
    assert.equal(await rpc.commit([bytes("c-primary")], startTs, await tso()), undefined);
    // Enough writes for the leader's log GC to leave the stopped store behind.
    for (let index = 0; index < 40; index++) {
      const ts = await tso();
      assert.deepEqual(
        await rpc.prewrite([put(`c-filler-${index}`, "f")], bytes(`c-filler-${index}`), ts),
        [],
      );
      assert.equal(await rpc.commit([bytes(`c-filler-${index}`)], ts, await tso()), undefined);
    }
    const leaderIndex = () => cluster.leaderOfRegion(region.id)?.index ?? -1;
    // Only once the leader's log no longer holds what the follower lacks must it catch up by snapshot.
    await cluster.waitFor("the leader's log GC to pass the stopped follower", async () => {
      const leader = leaderIndex();
      if (leader < 0) return false;
      const first = await cluster.store(leader).engines.raftLogStore.firstStoredIndex(region.id);
      return first !== undefined && first > followerLastIndex + 1;
    });
    await cluster.restart(follower);
    await cluster.waitFor("the restarted store to hold the same transactional data", async () => {
      const [leaderData, followerData] = await Promise.all([
        txnData(cluster, leaderIndex(), region.id),
        txnData(cluster, follower, region.id),
      ]);
      return leaderData !== "" && leaderData === followerData;
    });
    assert.ok(
      (await cluster.counter(follower, "store_raftstore_snapshots_total", { event: "applied" })) >= 1,
      "the restarted store caught up by installing a snapshot",
    );
    const readTs = await tso();
    assert.equal(text((await rpc.get(bytes("c-primary"), readTs)).value), long);
    assert.equal((await rpc.scanLocks(bytes("c-second"), readTs)).length, 1, "the secondary is still locked");
  });

  test("a pessimistic lock waiter is woken when the holder commits, and gets the lock when it rolls back", async () => {
    const key = bytes("w-key");
    const holderTs = await tso();
    assert.deepEqual((await rpc.pessimisticLock([key], key, holderTs, holderTs)).errors, []);
    const waiterTs = await tso();
    const waiting = rpc.pessimisticLock([key], key, waiterTs, waiterTs, { waitTimeoutMs: 20_000n });
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.deepEqual(
      await rpc.prewrite([put("w-key", "holder")], key, holderTs, {
        forUpdateTs: holderTs,
        isPessimisticLock: [true],
      }),
      [],
    );
    assert.equal(await rpc.commit([key], holderTs, await tso()), undefined);
    const woken = await waiting;
    // Woken (not timed out, which answers `locked`): the holder committed after the waiter's for_update_ts.
    assert.equal(woken.errors[0]?.conflict?.conflictTs, holderTs);

    const secondHolderTs = await tso();
    assert.deepEqual((await rpc.pessimisticLock([key], key, secondHolderTs, secondHolderTs)).errors, []);
    const retryTs = await tso();
    const retry = rpc.pessimisticLock([key], key, retryTs, retryTs, {
      waitTimeoutMs: 20_000n,
      returnValues: true,
    });
    await new Promise((resolve) => setTimeout(resolve, 200));
    await rpc.call<kvrpcpb.PessimisticRollbackResponse>(key, (client, context, done) =>
      client.kvPessimisticRollback(
        { context, startTs: secondHolderTs, forUpdateTs: secondHolderTs, keys: [key] },
        done,
      ),
    );
    const acquired = await retry;
    assert.deepEqual(acquired.errors, []);
    assert.equal(text(acquired.values[0]), "holder");
  });

  test("two transactions waiting for each other: one gets a deadlock error, the other then proceeds", async () => {
    const [k1, k2] = [bytes("d-1"), bytes("d-2")];
    const [ts1, ts2] = [await tso(), await tso()];
    assert.deepEqual((await rpc.pessimisticLock([k1], k1, ts1, ts1, { isFirstLock: true })).errors, []);
    assert.deepEqual((await rpc.pessimisticLock([k2], k2, ts2, ts2, { isFirstLock: true })).errors, []);
    const first = rpc.pessimisticLock([k2], k1, ts1, ts1, { waitTimeoutMs: 20_000n });
    await new Promise((resolve) => setTimeout(resolve, 300));
    const second = await rpc.pessimisticLock([k1], k2, ts2, ts2, { waitTimeoutMs: 20_000n });
    const deadlock = second.errors[0]?.deadlock;
    assert.ok(
      deadlock !== undefined,
      `expected a deadlock, got ${JSON.stringify(second.errors.map((error) => kvrpcpb.KeyError.toJSON(error)))}`,
    );
    assert.equal(deadlock.lockTs, ts1);
    assert.deepEqual(
      deadlock.waitChain.map((edge) => [edge.txn, edge.waitForTxn]),
      [
        [ts1, ts2],
        [ts2, ts1],
      ],
      "the cycle, ending with the requester's own wait",
    );
    // The victim gives up its lock; the other transaction's wait ends with the lock.
    await rpc.call<kvrpcpb.PessimisticRollbackResponse>(k2, (client, context, done) =>
      client.kvPessimisticRollback({ context, startTs: ts2, forUpdateTs: ts2, keys: [k2] }, done),
    );
    assert.deepEqual((await first).errors, []);
  });
  test("bad input is refused with a clear error and writes nothing", async () => {
    const startTs = await tso();
    const prewrite = (mutations: kvrpcpb.Mutation[], overrides: Partial<kvrpcpb.PrewriteRequest> = {}) =>
      rpc.callOnce<kvrpcpb.PrewriteResponse>(bytes("b-1"), (client, context, done) =>
        client.kvPrewrite(
          kvrpcpb.PrewriteRequest.fromPartial({
            context,
            mutations,
            primaryLock: bytes("b-1"),
            startTs,
            lockTtlMs: 3000n,
            ...overrides,
          }),
          done,
        ),
      );
    const abortOf = (response: kvrpcpb.PrewriteResponse) => response.errors[0]?.abort ?? "";
    assert.match(abortOf(await prewrite([put("", "v")])), /key 0 of the batch is empty/);
    assert.match(abortOf(await prewrite([put("b-1", "v")], { startTs: 0n })), /start_ts is 0/);
    assert.match(
      abortOf(await prewrite([{ op: 99 as kvrpcpb.Op, key: bytes("b-1"), value: bytes("v") }])),
      /mutation 0 has op 99/,
    );
    assert.match(abortOf(await prewrite([put("b-1", "v"), put("b-1", "w")])), /appears twice/);
    const many = Array.from({ length: 100_000 }, (_, index) => put(`b-${index}`, "v"));
    assert.match(abortOf(await prewrite(many)), /100000 keys, over the limit/);
    const outside = await prewrite([put("zz-outside", "v")]);
    assert.ok(
      outside.regionError?.keyNotInRegion !== undefined,
      "a key outside the region is a region error",
    );
    const commit = await rpc.callOnce<kvrpcpb.CommitResponse>(bytes("b-1"), (client, context, done) =>
      client.kvCommit({ context, keys: [bytes("b-1")], startTs, commitTs: startTs - 1n }, done),
    );
    assert.match(commit.error?.abort ?? "", /must be greater than start_ts/);
    for (const key of ["b-1", "b-0", "zz-outside"]) {
      const history = await rpc.mvcc(bytes(key));
      assert.equal(history.lock, undefined, `${key} is not locked`);
      assert.deepEqual(history.writes, [], `${key} has no versions`);
    }
  });

  test("async commit picks a min_commit_ts above every read served, and 1PC commits with no lock left", async () => {
    const key = bytes("ac-1");
    // A reader far in the future raises the store's max_ts.
    const futureReadTs = (await tso()) + (60_000n << 18n);
    assert.equal((await rpc.get(key, futureReadTs)).notFound, true);
    const startTs = await tso();
    const response = await rpc.callOnce<kvrpcpb.PrewriteResponse>(key, (client, context, done) =>
      client.kvPrewrite(
        kvrpcpb.PrewriteRequest.fromPartial({
          context,
          mutations: [put("ac-1", "async")],
          primaryLock: key,
          startTs,
          lockTtlMs: 3000n,
          useAsyncCommit: true,
        }),
        done,
      ),
    );
    assert.deepEqual(response.errors, []);
    assert.ok(response.minCommitTs > futureReadTs, "min_commit_ts is above the read that already happened");
    assert.equal((await rpc.mvcc(key)).lock?.useAsyncCommit, true);
    assert.equal(await rpc.commit([key], startTs, response.minCommitTs), undefined);
    assert.equal(text((await rpc.get(key, response.minCommitTs)).value), "async");

    const onePcKey = bytes("ac-2");
    const onePcStart = await tso();
    const onePc = await rpc.callOnce<kvrpcpb.PrewriteResponse>(onePcKey, (client, context, done) =>
      client.kvPrewrite(
        kvrpcpb.PrewriteRequest.fromPartial({
          context,
          mutations: [put("ac-2", "one phase")],
          primaryLock: onePcKey,
          startTs: onePcStart,
          lockTtlMs: 3000n,
          tryOnePc: true,
        }),
        done,
      ),
    );
    assert.deepEqual(onePc.errors, []);
    assert.ok(onePc.onePcCommitTs > onePcStart);
    const history = await rpc.mvcc(onePcKey);
    assert.equal(history.lock, undefined);
    assert.deepEqual(
      history.writes.map((write) => [write.type, write.startTs, write.commitTs]),
      [[kvrpcpb.MvccWriteType.PUT, onePcStart, onePc.onePcCommitTs]],
    );
  });

  test("a new leader syncs max_ts from the TSO before its first async-commit prewrite", async () => {
    const key = bytes("ms-1");
    const startTs = await tso();
    // A read on the current leader at a timestamp after the transaction started.
    const readTs = await tso();
    assert.equal((await rpc.get(key, readTs)).notFound, true);
    const region = cluster.regionFor(key)!;
    const before = cluster.leaderOfRegion(region.id)!.index;
    const next = (before + 1) % 3;
    await cluster.transferLeader(region.id, next);
    const syncsBefore = await cluster.counter(next, "store_txn_max_ts_syncs_total");
    const response = await rpc.callOnce<kvrpcpb.PrewriteResponse>(key, (client, context, done) =>
      client.kvPrewrite(
        kvrpcpb.PrewriteRequest.fromPartial({
          context,
          mutations: [put("ms-1", "v")],
          primaryLock: key,
          startTs,
          lockTtlMs: 3000n,
          useAsyncCommit: true,
        }),
        done,
      ),
    );
    assert.deepEqual(response.errors, []);
    // The new leader never saw the read, yet the transaction cannot commit below it.
    assert.ok(response.minCommitTs > readTs, "min_commit_ts is above the read served by the old leader");
    assert.ok((await cluster.counter(next, "store_txn_max_ts_syncs_total")) > syncsBefore);
    assert.equal(await rpc.commit([key], startTs, response.minCommitTs), undefined);
  });

  test("KvGC keeps the newest version below the safe point; DeleteRange and UnsafeDestroyRange drop ranges", async () => {
    const key = bytes("g-1");
    for (const value of ["one", "two", "three"]) {
      const ts = await tso();
      assert.deepEqual(await rpc.prewrite([put("g-1", value)], key, ts), []);
      assert.equal(await rpc.commit([key], ts, await tso()), undefined);
    }
    assert.equal((await rpc.mvcc(key)).writes.length, 3);
    const safePoint = await tso();
    const gc = await rpc.call<kvrpcpb.GCResponse>(key, (client, context, done) =>
      client.kvGc({ context, safePoint }, done),
    );
    assert.equal(gc.error, undefined);
    const kept = (await rpc.mvcc(key)).writes;
    assert.equal(kept.length, 1);
    assert.equal(text((await rpc.get(key, await tso())).value), "three");

    for (const name of ["dr-1", "dr-2", "ud-1", "ud-2"]) {
      const ts = await tso();
      assert.deepEqual(await rpc.prewrite([put(name, "x")], bytes(name), ts), []);
      assert.equal(await rpc.commit([bytes(name)], ts, await tso()), undefined);
    }
    const deleted = await rpc.call<kvrpcpb.DeleteRangeResponse>(bytes("dr-"), (client, context, done) =>
      client.kvDeleteRange({ context, startKey: bytes("dr-"), endKey: bytes("dr.") }, done),
    );
    assert.equal(deleted.error, "");
    const clients = new StoreClients();
    try {
      for (const index of cluster.runningIndexes()) {
        const destroyed = await grpcCall<kvrpcpb.UnsafeDestroyRangeResponse>((done) =>
          clients.for(cluster.server(index).address).unsafeDestroyRange(
            kvrpcpb.UnsafeDestroyRangeRequest.fromPartial({
              context: { peer: { storeId: cluster.storeId(index) } },
              startKey: bytes("ud-"),
              endKey: bytes("ud."),
            }),
            done,
          ),
        );
        assert.equal(destroyed.error, "");
      }
    } finally {
      clients.close();
    }
    const readTs = await tso();
    for (const name of ["dr-1", "dr-2", "ud-1", "ud-2"]) {
      assert.equal((await rpc.get(bytes(name), readTs)).notFound, true, `${name} is gone`);
    }
  });
});

/** Every transactional entry of the region on store `index`, as one comparable string ("" when absent). */
async function txnData(cluster: StoreCluster, index: number, regionId: bigint): Promise<string> {
  if (index < 0 || !cluster.isRunning(index)) return "";
  const db = cluster.store(index).engines.kvEngine.db;
  const region = cluster.store(index).region(regionId);
  if (region === undefined) return "";
  const lines: string[] = [];
  for (const cf of DATA_COLUMN_FAMILIES) {
    const entries = await db.scan(cf, { gte: TXN_DATA_PREFIX, limit: 100_000 });
    for (const { key, value } of entries) {
      lines.push(`${cf} ${Buffer.from(key).toString("hex")} ${Buffer.from(value).toString("hex")}`);
    }
  }
  return lines.join("\n");
}
