/**
 * RegionLeaderRpc against a scripted store over real gRPC on 127.0.0.1: each region error is retried the
 * way its kind asks (pd again after a backoff, or the hinted leader at once), the attempts are bounded, and
 * an unreachable store or an RPC the store lacks fails naming the store.
 */
import assert from "node:assert/strict";
import { createServer } from "node:net";
import { after, before, beforeEach, describe, test } from "node:test";
import { Metadata, Server, ServerCredentials, type ServerUnaryCall, type sendUnaryData } from "@grpc/grpc-js";
import type { PdStore } from "#client";
import { errorpb, kvrpcpb, metapb, tikvpb } from "#proto";
import { RegionLeaderRpc, type RegionTarget } from "./region-leader-rpc.ts";
import {
  NoLeaderError,
  RegionUnavailableError,
  StoreCallError,
  StoreUnreachableError,
} from "./txn-errors.ts";

type Answer = Partial<kvrpcpb.MvccGetByKeyResponse>;

/** A store serving only MvccGetByKey, answering each request with the next scripted answer. */
class ScriptedStore {
  readonly requests: kvrpcpb.MvccGetByKeyRequest[] = [];
  answers: Answer[] = [];
  private readonly server = new Server();
  port = 0;

  async start(): Promise<void> {
    this.server.addService(tikvpb.TikvService, {
      mvccGetByKey: (
        call: ServerUnaryCall<kvrpcpb.MvccGetByKeyRequest, kvrpcpb.MvccGetByKeyResponse>,
        callback: sendUnaryData<kvrpcpb.MvccGetByKeyResponse>,
      ) => {
        this.requests.push(call.request);
        callback(null, kvrpcpb.MvccGetByKeyResponse.fromPartial(this.answers.shift() ?? {}));
      },
    });
    this.port = await new Promise<number>((resolve, reject) =>
      this.server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (error, port) =>
        error === null ? resolve(port) : reject(error),
      ),
    );
  }

  stop(): Promise<void> {
    return new Promise((resolve) => this.server.tryShutdown(() => resolve()));
  }
}

const peer = (id: bigint, storeId: bigint): metapb.Peer => metapb.Peer.fromPartial({ id, storeId });
const region = (version: bigint): metapb.Region =>
  metapb.Region.fromPartial({
    id: 7n,
    regionEpoch: { confVer: 1n, version },
    peers: [peer(70n, 1n), peer(71n, 2n)],
  });
const regionError = (fields: Partial<errorpb.Error>): Answer => ({
  regionError: errorpb.Error.fromPartial({ message: "scripted", ...fields }),
});

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe("RegionLeaderRpc", () => {
  const store = new ScriptedStore();
  /** Store id → address, as pd would report it. */
  const addresses = new Map<bigint, string>();
  let storeLookups = 0;
  const pd = {
    getStore: async (storeId: bigint): Promise<PdStore | undefined> => {
      storeLookups++;
      const address = addresses.get(storeId);
      return address === undefined
        ? undefined
        : { store: metapb.Store.fromPartial({ id: storeId, address }) };
    },
  };
  const rpcs: RegionLeaderRpc[] = [];
  const newRpc = (): RegionLeaderRpc => {
    const rpc = new RegionLeaderRpc({ pd, maxAttempts: 3, backoffBaseMs: 1, backoffCapMs: 1 });
    rpcs.push(rpc);
    return rpc;
  };
  const mvcc = (rpc: RegionLeaderRpc, target: RegionTarget, relocate: () => Promise<RegionTarget>) =>
    rpc.call<kvrpcpb.MvccGetByKeyResponse>(
      "MvccGetByKey",
      target,
      relocate,
      ({ client, context }, options, done) =>
        client.mvccGetByKey({ context, key: Buffer.from("k") }, new Metadata(), options, done),
    );

  before(async () => {
    await store.start();
  });

  beforeEach(() => {
    store.requests.length = 0;
    store.answers = [];
    storeLookups = 0;
    addresses.clear();
    addresses.set(1n, `127.0.0.1:${store.port}`);
    addresses.set(2n, `127.0.0.1:${store.port}`);
  });

  after(async () => {
    for (const rpc of rpcs) rpc.close();
    await store.stop();
  });

  test("EpochNotMatch asks pd for the region again and retries with its new epoch", async () => {
    store.answers = [regionError({ epochNotMatch: { currentRegions: [] } }), { truncated: true }];
    let relocations = 0;
    const relocate = async (): Promise<RegionTarget> => {
      relocations++;
      return { region: region(2n), leader: peer(70n, 1n) };
    };

    const { response, route } = await mvcc(newRpc(), { region: region(1n), leader: peer(70n, 1n) }, relocate);

    assert.equal(response.truncated, true);
    assert.equal(relocations, 1);
    assert.deepEqual(
      store.requests.map((request) => request.context?.regionEpoch?.version),
      [1n, 2n],
    );
    assert.equal(route.region.regionEpoch?.version, 2n);
    assert.equal(route.storeId, 1n);
  });

  test("NotLeader naming another leader is retried there at once, without asking pd", async () => {
    store.answers = [regionError({ notLeader: { regionId: 7n, leader: peer(71n, 2n) } }), {}];
    const relocate = async (): Promise<RegionTarget> => assert.fail("pd must not be asked again");

    const { route } = await mvcc(newRpc(), { region: region(1n), leader: peer(70n, 1n) }, relocate);

    assert.deepEqual(
      store.requests.map((request) => request.context?.peer?.id),
      [70n, 71n],
    );
    assert.equal(route.storeId, 2n);
  });

  test("region errors that never stop give up after maxAttempts, naming the region and the last error", async () => {
    store.answers = Array.from({ length: 5 }, () =>
      regionError({ notLeader: { regionId: 7n, leader: undefined } }),
    );
    const target = { region: region(1n), leader: peer(70n, 1n) };

    const failure = await mvcc(newRpc(), target, async () => target).then(
      () => assert.fail("expected a failure"),
      (error: unknown) => error,
    );

    assert.ok(failure instanceof RegionUnavailableError);
    assert.match(
      failure.message,
      /^notLeader for region 7 from store 1 \(127\.0\.0\.1:\d+\): .*; gave up on region 7 after 3 attempts$/,
    );
    assert.equal(store.requests.length, 3);
  });

  test("an unreachable store fails naming its id and address after the bounded attempts", async () => {
    const address = `127.0.0.1:${await closedPort()}`;
    addresses.set(1n, address);
    const target = { region: region(1n), leader: peer(70n, 1n) };

    const failure = await mvcc(newRpc(), target, async () => target).then(
      () => assert.fail("expected a failure"),
      (error: unknown) => error,
    );

    assert.ok(failure instanceof RegionUnavailableError);
    assert.ok(failure.lastProblem instanceof StoreUnreachableError);
    assert.ok(
      failure.message.startsWith(`store 1 at ${address} is unreachable (14 UNAVAILABLE`),
      failure.message,
    );
    assert.equal(storeLookups, 3, "the address is asked of pd again after each failure");
  });

  test("a region whose leader pd does not know fails with NoLeaderError as the last problem", async () => {
    const target = { region: region(1n) };

    const failure = await mvcc(newRpc(), target, async () => target).then(
      () => assert.fail("expected a failure"),
      (error: unknown) => error,
    );

    assert.ok(failure instanceof RegionUnavailableError);
    assert.ok(failure.lastProblem instanceof NoLeaderError);
    assert.equal(failure.message, "pd knows no leader of region 7; gave up on region 7 after 3 attempts");
    assert.equal(store.requests.length, 0);
  });

  test("an RPC the store does not serve fails at once, naming the store and the method", async () => {
    const rpc = newRpc();
    const target = { region: region(1n), leader: peer(70n, 1n) };
    const failure = await rpc
      .call<kvrpcpb.ScanLockResponse>(
        "KvScanLock",
        target,
        async () => target,
        ({ client, context }, options, done) =>
          client.kvScanLock(kvrpcpb.ScanLockRequest.fromPartial({ context }), new Metadata(), options, done),
      )
      .then(
        () => assert.fail("expected a failure"),
        (error: unknown) => error,
      );

    assert.ok(failure instanceof StoreCallError);
    assert.match(failure.message, /^store 1 at 127\.0\.0\.1:\d+ failed KvScanLock: 12 UNIMPLEMENTED/);
  });
});
