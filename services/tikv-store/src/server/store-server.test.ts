/**
 * A real pd and three stores in this process over real gRPC: the first store bootstraps the cluster, pd
 * replicates the first region onto the others, clients write and read raw KV through the generated
 * client, and the cluster keeps serving while the leader's store is closed and after it restarts on the
 * same data directory (on a new port, found again through pd).
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { kvrpcpb } from "#proto";
import { DEFAULT_SCHEDULE_CONFIG } from "../../../pd/src/schedule/index.ts";
import { StoreCluster } from "../testing/cluster/store-cluster.ts";
import { RawRpcClient } from "../testing/raw-rpc-client.ts";

const KEYS = 40;
const key = (index: number) => Buffer.from(`key-${String(index).padStart(3, "0")}`);
const value = (index: number, round: number) => Buffer.from(`value-${index}-${round}`);
const text = (data: Uint8Array) => Buffer.from(data).toString();

describe("stores serving raw KV with a real pd", () => {
  let cluster: StoreCluster;
  let client: RawRpcClient;

  before(async () => {
    cluster = await StoreCluster.start({
      label: "stores with a real pd",
      stores: 3,
      transport: "grpc",
      // pd replicates the first region itself, and a closing store hands its leaders over first.
      replicas: 1,
      schedule: DEFAULT_SCHEDULE_CONFIG,
      store: { leaderTransferTimeoutMs: 5_000 },
    });
    client = new RawRpcClient(cluster.pdClient);
    await client.waitForReplicas(new Uint8Array(), 3);
  });

  after(async () => {
    client?.close();
    await cluster?.close();
  });

  const put = (index: number, round: number) =>
    client.raw<kvrpcpb.RawPutResponse>(key(index), (tikv, context, done) =>
      tikv.rawPut({ context, key: key(index), value: value(index, round) }, done),
    );
  const get = (index: number, options: { storeId?: bigint; replicaRead?: boolean } = {}) =>
    client.raw<kvrpcpb.RawGetResponse>(
      key(index),
      (tikv, context, done) => tikv.rawGet({ context, key: key(index) }, done),
      options,
    );

  test("every store registered in pd with its address and a status address", async () => {
    const stores = await cluster.pdClient.getAllStores();
    assert.equal(stores.length, 3);
    for (const running of cluster.runningIndexes().map((index) => cluster.server(index))) {
      const registered = stores.find((store) => store.id === running.storeId);
      assert.equal(registered?.address, running.address);
      assert.equal(registered?.statusAddress, running.statusAddress);
      const health = await fetch(`http://${running.statusAddress}/health`);
      assert.equal(health.status, 200);
    }
  });

  test("RawPut, RawGet and RawScan through the region leader", async () => {
    for (let index = 0; index < KEYS; index++) {
      const response = await put(index, 1);
      assert.equal(response.error, "");
    }
    for (let index = 0; index < KEYS; index++)
      assert.equal(text((await get(index)).value), `value-${index}-1`);
    const scan = await client.raw<kvrpcpb.RawScanResponse>(key(10), (tikv, context, done) =>
      tikv.rawScan(
        kvrpcpb.RawScanRequest.fromPartial({ context, startKey: key(10), endKey: key(15), limit: 100 }),
        done,
      ),
    );
    assert.deepEqual(
      scan.kvs.map((pair) => text(pair.key)),
      [10, 11, 12, 13, 14].map((index) => text(key(index))),
    );
  });

  test("status and metrics pages report the store's figures", async () => {
    const running = cluster.server(0);
    const status = (await (await fetch(`http://${running.statusAddress}/status`)).json()) as Record<
      string,
      unknown
    >;
    assert.equal(status.storeId, running.storeId.toString());
    assert.equal(status.regionCount, 1);
    const metrics = await (await fetch(`http://${running.statusAddress}/metrics`)).text();
    assert.match(metrics, /store_raftstore_fsync_total/);
    assert.match(metrics, /store_transport_raft_messages_sent_total/);
  });

  test("the leader's store closes: writes continue; it restarts and catches up", async () => {
    const leader = (await cluster.pdClient.getRegion(key(0)))?.leader;
    const index = cluster.indexOf(leader!.storeId);
    await cluster.stop(index);

    for (let keyIndex = 0; keyIndex < KEYS; keyIndex++) await put(keyIndex, 2);
    const restarted = await cluster.restart(index);
    assert.equal(restarted.storeId, leader!.storeId, "the restarted store kept its identity");

    // A follower read on the restarted store waits until it applied everything the leader committed.
    for (let keyIndex = 0; keyIndex < KEYS; keyIndex++) {
      const response = await get(keyIndex, { storeId: restarted.storeId, replicaRead: true });
      assert.equal(text(response.value), `value-${keyIndex}-2`);
    }
  });
});
