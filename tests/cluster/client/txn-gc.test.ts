/**
 * The GC worker on a gRPC cluster: one lease holder at a time; a round resolves locks older than the safe
 * point, publishes the safe point to pd and drops versions nobody can read any more, keeping the newest
 * one; a live transaction older than the safe point stops the round instead of losing data under it.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { GcBlockedError, GcWorker, RawKvClient, TxnClient } from "#client";
import { physicalMsOf } from "#codec";
import { kvrpcpb } from "#proto";
import { systemTimers } from "#runtime";
import { StoreCluster } from "../../../services/tikv-store/src/testing/cluster/store-cluster.ts";
import { TxnRpc } from "../../../services/tikv-store/src/testing/txn-rpc.ts";

const bytes = (text: string) => new TextEncoder().encode(text);
const text = (value: Uint8Array | undefined) =>
  value === undefined ? undefined : new TextDecoder().decode(value);

describe("GC worker", () => {
  let cluster: StoreCluster;
  let client: TxnClient;
  let raw: RawKvClient;
  let rpc: TxnRpc;
  const workers: GcWorker[] = [];

  before(async () => {
    cluster = await StoreCluster.start({ label: "txn gc", stores: 3, transport: "grpc" });
    await cluster.split(bytes("m"));
    client = await TxnClient.connect({ pdEndpoints: [cluster.pd.clientUrl], requestTimeoutMs: 2_000 });
    raw = await RawKvClient.connect({ pdEndpoints: [cluster.pd.clientUrl], requestTimeoutMs: 2_000 });
    rpc = new TxnRpc(cluster);
  });

  after(async () => {
    for (const worker of workers) await worker.close();
    rpc?.close();
    await raw?.close();
    await client?.close();
    await cluster?.close();
  });

  const worker = (owner: string) => {
    const created = new GcWorker({
      txn: client,
      raw,
      owner,
      lifeTimeMs: 0,
      intervalMs: 60_000,
      timers: systemTimers,
    });
    workers.push(created);
    return created;
  };

  test("the lease holder collects: old versions and stale locks go, the newest version stays", async () => {
    for (const value of ["one", "two", "three"]) {
      const txn = await client.begin();
      txn.set(bytes("gc-key"), bytes(value));
      txn.set(bytes("z-gc-key"), bytes(value));
      await txn.commit();
    }
    await client.drain();
    // A client that prewrote and vanished.
    const abandoned = await cluster.pdClient.getTimestamp();
    const put = { op: kvrpcpb.Op.PUT, key: bytes("gc-stale"), value: bytes("x") };
    assert.deepEqual(await rpc.prewrite([put], bytes("gc-stale"), abandoned, { lockTtlMs: 1n }), []);
    // Everything above must fall below the safe point, which is "now" to the TSO's millisecond.
    await cluster.waitFor(
      "the TSO's physical clock to pass the writes",
      async () => physicalMsOf(await cluster.pdClient.getTimestamp()) > physicalMsOf(abandoned),
    );

    const first = worker("gateway-1");
    const second = worker("gateway-2");
    const report = await first.runOnce();
    assert.ok(report !== undefined, "the first worker takes the lease");
    assert.equal(
      await second.runOnce(),
      undefined,
      "the second one does not collect while the lease is held",
    );
    assert.ok(report.locksResolved >= 1);
    assert.ok(report.regionsCollected >= 2);
    assert.equal(await cluster.pdClient.getGcSafePoint(), report.safePoint);
    assert.equal((await rpc.mvcc(bytes("gc-key"))).writes.length, 1, "only the newest version is left");
    assert.equal((await rpc.mvcc(bytes("z-gc-key"))).writes.length, 1);
    assert.deepEqual(await rpc.scanLocks(bytes("gc-stale"), report.safePoint), []);
    assert.equal(text(await (await client.snapshot()).get(bytes("gc-key"))), "three");
  });

  test("a live transaction older than the safe point stops the round", async () => {
    const holder = await client.begin({ pessimistic: true });
    await holder.lockKeys([bytes("gc-live")]);
    // The safe point is "now" to the TSO's millisecond (pd moves its physical clock in steps): wait until
    // the lock's start_ts falls below it.
    await cluster.waitFor(
      "the TSO's physical clock to pass the lock",
      async () => physicalMsOf(await cluster.pdClient.getTimestamp()) > physicalMsOf(holder.startTs),
    );
    const gc = worker("gateway-1");
    await assert.rejects(gc.runOnce(), GcBlockedError);
    holder.set(bytes("gc-live"), bytes("done"));
    await holder.commit();
    assert.ok((await gc.runOnce()) !== undefined);
  });
});
