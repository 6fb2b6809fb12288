/**
 * The transaction client against three stores and pd over real gRPC: snapshot isolation of reads and
 * writes across regions, conflicts, inserts, deletes and scans merged with a transaction's own writes,
 * statement staging, readers resolving the locks of a transaction whose client vanished after its
 * primary committed (and of one that vanished before), and pessimistic locking with deadlocks.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { DeadlockError, KeyExistsError, LockWaitTimeoutError, TxnClient, WriteConflictError } from "#client";
import { kvrpcpb } from "#proto";
import { StoreCluster } from "../../../services/tikv-store/src/testing/cluster/store-cluster.ts";
import { TxnRpc } from "../../../services/tikv-store/src/testing/txn-rpc.ts";

const bytes = (text: string) => new TextEncoder().encode(text);
const text = (value: Uint8Array | undefined) =>
  value === undefined ? undefined : new TextDecoder().decode(value);

describe("transaction client on a gRPC cluster", () => {
  let cluster: StoreCluster;
  let client: TxnClient;
  let rpc: TxnRpc;

  before(async () => {
    cluster = await StoreCluster.start({ label: "txn client", stores: 3, transport: "grpc" });
    await cluster.split(bytes("m"));
    client = await TxnClient.connect({ pdEndpoints: [cluster.pd.clientUrl], requestTimeoutMs: 2_000 });
    rpc = new TxnRpc(cluster);
  });

  after(async () => {
    rpc?.close();
    await client?.close();
    await cluster?.close();
  });

  test("a transaction across regions commits atomically; readers see all or nothing by timestamp", async () => {
    const before = await client.snapshot();
    const txn = await client.begin();
    txn.set(bytes("a-acct"), bytes("90"));
    txn.set(bytes("z-acct"), bytes("10"));
    assert.equal(text(await txn.get(bytes("a-acct"))), "90", "a transaction reads its own writes");
    const commitTs = await txn.commit();
    assert.ok(commitTs !== undefined && commitTs > txn.startTs);
    const after = await client.snapshot();
    assert.equal(text(await after.get(bytes("a-acct"))), "90");
    assert.equal(
      text(await after.get(bytes("z-acct"))),
      "10",
      "the secondary in the other region, resolved or committed",
    );
    assert.equal(await before.get(bytes("a-acct")), undefined, "an older snapshot does not see it");
    const both = await after.batchGet([bytes("a-acct"), bytes("z-acct"), bytes("absent")]);
    assert.deepEqual([...both.keys()].length, 2);
  });

  test("first committer wins: a transaction that read before another committed conflicts", async () => {
    const seed = await client.begin();
    seed.set(bytes("c-key"), bytes("0"));
    await seed.commit();
    const first = await client.begin();
    const second = await client.begin();
    await first.get(bytes("c-key"));
    await second.get(bytes("c-key"));
    first.set(bytes("c-key"), bytes("first"));
    second.set(bytes("c-key"), bytes("second"));
    await first.commit();
    await assert.rejects(second.commit(), WriteConflictError);
    assert.equal(text(await (await client.snapshot()).get(bytes("c-key"))), "first");
  });

  test("insert fails on an existing key; scans merge the transaction's own writes and deletes", async () => {
    const setup = await client.begin();
    for (const key of ["s-1", "s-2", "s-3", "s-4"]) setup.set(bytes(key), bytes(key));
    await setup.commit();
    const inserting = await client.begin();
    inserting.insert(bytes("s-2"), bytes("again"));
    await assert.rejects(inserting.commit(), KeyExistsError);

    const txn = await client.begin();
    txn.delete(bytes("s-2"));
    txn.set(bytes("s-25"), bytes("new"));
    const statement = txn.stage();
    txn.set(bytes("s-3"), bytes("undone"));
    txn.cleanup(statement);
    const forward = await txn.scan(bytes("s-"), bytes("s."), 10);
    assert.deepEqual(
      forward.map((pair) => `${text(pair.key)}=${text(pair.value)}`),
      ["s-1=s-1", "s-25=new", "s-3=s-3", "s-4=s-4"],
    );
    const reverse = await txn.scan(bytes("s-"), bytes("s."), 2, { reverse: true });
    assert.deepEqual(
      reverse.map((pair) => text(pair.key)),
      ["s-4", "s-3"],
    );
    await txn.commit();
    const after = await client.snapshot();
    assert.deepEqual(
      (await after.scan(bytes("s-"), bytes("s."), 10)).map((pair) => text(pair.key)),
      ["s-1", "s-25", "s-3", "s-4"],
    );
  });

  test("readers resolve a vanished client's locks: committed primary → committed, no primary commit → rolled back", async () => {
    // Client A prewrote both keys and committed only the primary, then vanished.
    const committedTs = await cluster.pdClient.getTimestamp();
    const put = (key: string, value: string) => ({
      op: kvrpcpb.Op.PUT,
      key: bytes(key),
      value: bytes(value),
    });
    assert.deepEqual(
      await rpc.prewrite([put("r-1", "p"), put("x-1", "s")], bytes("r-1"), committedTs, { lockTtlMs: 100n }),
      [],
    );
    assert.equal(
      await rpc.commit([bytes("r-1")], committedTs, await cluster.pdClient.getTimestamp()),
      undefined,
    );
    // Client B prewrote and vanished before any commit.
    const abandonedTs = await cluster.pdClient.getTimestamp();
    assert.deepEqual(
      await rpc.prewrite([put("r-2", "p"), put("x-2", "s")], bytes("r-2"), abandonedTs, { lockTtlMs: 100n }),
      [],
    );
    const snapshot = await client.snapshot();
    assert.equal(
      text(await snapshot.get(bytes("x-1"))),
      "s",
      "the secondary of a committed transaction reads as committed",
    );
    assert.equal(
      await snapshot.get(bytes("x-2")),
      undefined,
      "an abandoned transaction is rolled back once its lock expires",
    );
    assert.equal(await snapshot.get(bytes("r-2")), undefined);
    assert.deepEqual(await rpc.scanLocks(bytes("x-1"), snapshot.readTs), []);
  });

  test("1PC for a one-region transaction (no lock is ever written); async commit across regions", async () => {
    const onePc = await client.begin();
    onePc.set(bytes("o-1"), bytes("one"));
    onePc.set(bytes("o-2"), bytes("phase"));
    const onePcTs = await onePc.commit();
    assert.equal(client.backgroundTasks, 0, "nothing left to commit in the background");
    const history = await rpc.mvcc(bytes("o-2"));
    assert.equal(history.lock, undefined);
    assert.deepEqual(
      history.writes.map((write) => write.commitTs),
      [onePcTs],
    );

    const asyncTxn = await client.begin();
    asyncTxn.set(bytes("a-async"), bytes("left"));
    asyncTxn.set(bytes("z-async"), bytes("right"));
    const asyncTs = await asyncTxn.commit();
    assert.ok(asyncTs !== undefined && asyncTs > asyncTxn.startTs);
    const snapshot = await client.snapshot();
    assert.equal(text(await snapshot.get(bytes("z-async"))), "right");
    await client.drain();
    assert.equal(
      (await rpc.mvcc(bytes("a-async"))).writes[0]?.commitTs,
      asyncTs,
      "committed at min_commit_ts",
    );
  });

  test("an abandoned async-commit transaction is decided by its secondaries", async () => {
    const put = (key: string, value: string) => ({
      op: kvrpcpb.Op.PUT,
      key: bytes(key),
      value: bytes(value),
    });
    // Every key prewritten, nothing committed: committed, at the largest min_commit_ts.
    const complete = await cluster.pdClient.getTimestamp();
    const asyncOptions = (secondaries: string[]) => ({
      lockTtlMs: 50n,
      useAsyncCommit: true,
      secondaries: secondaries.map(bytes),
    });
    assert.deepEqual(
      await rpc.prewrite([put("b-1", "p")], bytes("b-1"), complete, asyncOptions(["y-1"])),
      [],
    );
    assert.deepEqual(await rpc.prewrite([put("y-1", "s")], bytes("b-1"), complete, asyncOptions([])), []);
    // One secondary never prewritten: rolled back.
    const incomplete = await cluster.pdClient.getTimestamp();
    assert.deepEqual(
      await rpc.prewrite([put("b-2", "p")], bytes("b-2"), incomplete, asyncOptions(["y-2"])),
      [],
    );
    await new Promise((resolve) => setTimeout(resolve, 100));
    const snapshot = await client.snapshot();
    assert.equal(text(await snapshot.get(bytes("y-1"))), "s");
    assert.equal(text(await snapshot.get(bytes("b-1"))), "p");
    assert.equal(await snapshot.get(bytes("b-2")), undefined);
    assert.equal((await rpc.mvcc(bytes("y-2"))).writes[0]?.type, kvrpcpb.MvccWriteType.ROLLBACK);
  });

  test("pessimistic transactions: a second locker waits and times out; a cycle is a deadlock", async () => {
    const holder = await client.begin({ pessimistic: true });
    await holder.lockKeys([bytes("p-1")]);
    const waiter = await client.begin({ pessimistic: true });
    await assert.rejects(waiter.lockKeys([bytes("p-1")], { waitTimeoutMs: 200 }), LockWaitTimeoutError);
    await waiter.rollback();
    holder.set(bytes("p-1"), bytes("held"));
    await holder.commit();

    const one = await client.begin({ pessimistic: true });
    const two = await client.begin({ pessimistic: true });
    await one.lockKeys([bytes("p-a")]);
    await two.lockKeys([bytes("p-b")]);
    const oneWaits = one.lockKeys([bytes("p-b")], { waitTimeoutMs: 10_000 });
    await new Promise((resolve) => setTimeout(resolve, 300));
    await assert.rejects(two.lockKeys([bytes("p-a")], { waitTimeoutMs: 10_000 }), DeadlockError);
    await two.rollback();
    await oneWaits;
    one.set(bytes("p-a"), bytes("1"));
    one.set(bytes("p-b"), bytes("1"));
    await one.commit();
    const snapshot = await client.snapshot();
    assert.equal(text(await snapshot.get(bytes("p-b"))), "1");
  });

  test("a heartbeat keeps a live pessimistic transaction's locks from expiring", async () => {
    const beating = await TxnClient.connect({
      pdEndpoints: [cluster.pd.clientUrl],
      requestTimeoutMs: 2_000,
      managedLockTtlMs: 400,
    });
    try {
      const holder = await beating.begin({ pessimistic: true });
      await holder.lockKeys([bytes("hb-1")]);
      // Three TTLs later the lock would have expired without the heartbeat.
      await new Promise((resolve) => setTimeout(resolve, 1_200));
      const other = await client.begin({ pessimistic: true });
      await assert.rejects(other.lockKeys([bytes("hb-1")], { waitTimeoutMs: -1 }), LockWaitTimeoutError);
      await other.rollback();
      holder.set(bytes("hb-1"), bytes("kept"));
      await holder.commit();
      assert.equal(text(await (await client.snapshot()).get(bytes("hb-1"))), "kept");
    } finally {
      await beating.close();
    }
  });
});
