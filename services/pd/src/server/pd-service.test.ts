import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { metapb, pdpb } from "#proto";
import { InProcessPdCluster } from "../testing/in-process-pd.ts";
import { PdTestClient } from "../testing/pd-test-client.ts";
import { timestampFromProto } from "../tso/timestamp.ts";

const { ErrorType } = pdpb;

function peer(id: bigint, storeId: bigint): metapb.Peer {
  return { id, storeId, role: metapb.PeerRole.VOTER };
}

function store(id: bigint): metapb.Store {
  return metapb.Store.fromPartial({ id, address: `127.0.0.1:${20_000 + Number(id)}` });
}

function region(
  id: bigint,
  peers: metapb.Peer[],
  version: bigint,
  confVer: bigint,
  start = "",
  end = "",
): metapb.Region {
  return {
    id,
    startKey: new TextEncoder().encode(start),
    endKey: new TextEncoder().encode(end),
    regionEpoch: { version, confVer },
    peers,
  };
}

function errorType(response: { header?: pdpb.ResponseHeader | undefined }): pdpb.ErrorType {
  return response.header?.error?.type ?? ErrorType.OK;
}

describe("pd gRPC service", () => {
  const cluster = new InProcessPdCluster();
  let client: PdTestClient;

  before(async () => {
    const pd = await cluster.start();
    await cluster.waitServing(pd);
    client = await new PdTestClient(pd.clientUrl).connect();
    assert.equal(client.clusterId, pd.clusterId);
  });
  after(async () => {
    client?.close();
    await cluster.closeAll();
  });

  it("GetMembers lists this member as the leader and accepts cluster id 0", async () => {
    const response = await client.unary("getMembers", { header: client.header(0n) });
    assert.equal(errorType(response), ErrorType.OK);
    assert.equal(response.members.length, 1);
    assert.equal(response.leader?.name, "pd-1");
  });

  it("refuses a wrong cluster id on every kind of RPC, naming both ids", async () => {
    const wrong = client.clusterId + 1n;
    const unary = await client.unary("allocId", { header: client.header(wrong) });
    assert.equal(errorType(unary), ErrorType.CLUSTER_MISMATCH);
    assert.match(unary.header!.error!.message, new RegExp(`${wrong}.*${client.clusterId}`));
    const unset = await client.unary("isBootstrapped", { header: client.header(0n) });
    assert.equal(errorType(unset), ErrorType.CLUSTER_MISMATCH);
    const members = await client.unary("getMembers", { header: client.header(wrong) });
    assert.equal(errorType(members), ErrorType.CLUSTER_MISMATCH);
    const stream = client.tsoStream();
    const tso = await stream.request({ header: client.header(wrong), count: 1 });
    assert.equal(errorType(tso), ErrorType.CLUSTER_MISMATCH);
    // The stream stays usable for a correct request after a refused one.
    const ok = await stream.request({ header: client.header(), count: 1 });
    assert.equal(errorType(ok), ErrorType.OK);
    stream.close();
  });

  it("bootstraps once; stores register only afterwards", async () => {
    const header = client.header();
    const early = await client.unary("putStore", { header, store: store(1n) });
    assert.equal(errorType(early), ErrorType.NOT_BOOTSTRAPPED);
    assert.equal((await client.unary("isBootstrapped", { header })).bootstrapped, false);
    const malformed = await client.unary("bootstrap", {
      header,
      store: store(1n),
      region: region(2n, [], 1n, 1n),
    });
    assert.equal(errorType(malformed), ErrorType.INVALID_ARGUMENT);
    const first = await client.unary("bootstrap", {
      header,
      store: store(1n),
      region: region(2n, [peer(3n, 1n)], 1n, 1n),
    });
    assert.equal(errorType(first), ErrorType.OK);
    assert.equal((await client.unary("isBootstrapped", { header })).bootstrapped, true);
    const second = await client.unary("bootstrap", {
      header,
      store: store(1n),
      region: region(2n, [peer(3n, 1n)], 1n, 1n),
    });
    assert.equal(errorType(second), ErrorType.ALREADY_BOOTSTRAPPED);
    const found = await client.unary("getRegion", { header, regionKey: new Uint8Array([0x42]) });
    assert.equal(found.region?.id, 2n);
  });

  it("registers stores and reports unknown ones clearly", async () => {
    const header = client.header();
    for (const id of [4n, 5n]) {
      assert.equal(errorType(await client.unary("putStore", { header, store: store(id) })), ErrorType.OK);
    }
    const all = await client.unary("getAllStores", { header, excludeTombstoneStores: true });
    assert.deepEqual(
      all.stores.map((known) => known.id),
      [1n, 4n, 5n],
    );
    const got = await client.unary("getStore", { header, storeId: 4n });
    assert.equal(got.store?.address, store(4n).address);
    const unknown = await client.unary("getStore", { header, storeId: 404n });
    assert.equal(errorType(unknown), ErrorType.STORE_NOT_FOUND);
    assert.match(unknown.header!.error!.message, /store 404/);
    const heartbeat = await client.unary("storeHeartbeat", {
      header,
      stats: pdpb.StoreStats.fromPartial({ storeId: 404n }),
    });
    assert.equal(errorType(heartbeat), ErrorType.STORE_NOT_FOUND);
    const missing = await client.unary("putStore", { header, store: undefined });
    assert.equal(errorType(missing), ErrorType.INVALID_ARGUMENT);
  });

  it("region heartbeats update routing; stale and malformed ones get errors in order", async () => {
    const header = client.header();
    const stream = client.heartbeatStream();
    const replies: pdpb.RegionHeartbeatResponse[] = [];
    stream.on("data", (reply: pdpb.RegionHeartbeatResponse) => replies.push(reply));
    const ended = new Promise<void>((resolve) => stream.on("end", resolve));
    const beat = (meta: metapb.Region, leader = meta.peers[0]): void => {
      stream.write(pdpb.RegionHeartbeatRequest.fromPartial({ header, region: meta, leader }));
    };
    beat(region(2n, [peer(3n, 1n), peer(6n, 4n)], 1n, 2n)); // accepted: no reply
    beat(region(2n, [peer(3n, 1n)], 1n, 1n)); // conf_ver went backwards
    beat(region(2n, [], 1n, 2n)); // no peers
    beat({ ...region(2n, [peer(3n, 1n)], 1n, 2n), regionEpoch: undefined }); // no epoch
    beat(region(2n, [peer(3n, 1n)], 1n, 2n, "b", "a")); // start above end
    stream.end();
    await ended;
    assert.deepEqual(
      replies.map((reply) => [reply.regionId, errorType(reply)]),
      [
        [2n, ErrorType.STALE_REGION],
        [2n, ErrorType.INVALID_ARGUMENT],
        [2n, ErrorType.INVALID_ARGUMENT],
        [2n, ErrorType.INVALID_ARGUMENT],
      ],
    );
    const byId = await client.unary("getRegionById", { header, regionId: 2n });
    assert.equal(byId.region?.regionEpoch?.confVer, 2n);
    assert.equal(byId.leader?.storeId, 1n);
    const notFound = await client.unary("getRegionById", { header, regionId: 999n });
    assert.equal(errorType(notFound), ErrorType.REGION_NOT_FOUND);
  });

  it("AskBatchSplit hands out unique ids, refuses stale or unknown regions; ReportBatchSplit updates routing", async () => {
    const header = client.header();
    const parent = region(2n, [peer(3n, 1n), peer(6n, 4n)], 1n, 2n);
    const answers = await Promise.all(
      Array.from({ length: 20 }, () =>
        client.unary("askBatchSplit", { header, region: parent, splitCount: 3 }),
      ),
    );
    const ids = answers.flatMap((answer) => {
      assert.equal(errorType(answer), ErrorType.OK);
      assert.equal(answer.ids.length, 3);
      return answer.ids.flatMap((split) => {
        assert.equal(split.newPeerIds.length, parent.peers.length);
        return [split.newRegionId, ...split.newPeerIds];
      });
    });
    assert.equal(new Set(ids).size, ids.length);
    assert.equal(ids.length, 20 * 3 * 3);
    const allocated = await client.unary("allocId", { header });
    assert.ok(!ids.includes(allocated.id));

    const stale = await client.unary("askBatchSplit", {
      header,
      region: region(2n, parent.peers, 1n, 1n),
      splitCount: 1,
    });
    assert.equal(errorType(stale), ErrorType.STALE_REGION);
    const unknown = await client.unary("askBatchSplit", {
      header,
      region: region(777n, parent.peers, 1n, 1n),
      splitCount: 1,
    });
    assert.equal(errorType(unknown), ErrorType.REGION_NOT_FOUND);
    const tooMany = await client.unary("askBatchSplit", { header, region: parent, splitCount: 0 });
    assert.equal(errorType(tooMany), ErrorType.INVALID_ARGUMENT);

    const [split] = answers[0]!.ids;
    const left = region(
      split!.newRegionId,
      [peer(split!.newPeerIds[0]!, 1n), peer(split!.newPeerIds[1]!, 4n)],
      2n,
      2n,
      "",
      "m",
    );
    const right = region(2n, parent.peers, 2n, 2n, "m", "");
    const report = await client.unary("reportBatchSplit", { header, regions: [left, right] });
    assert.equal(errorType(report), ErrorType.OK);
    const scanned = await client.unary("scanRegions", {
      header,
      startKey: new Uint8Array(),
      endKey: new Uint8Array(),
      limit: 0,
    });
    assert.deepEqual(
      scanned.regions.map((info) => info.region?.id),
      [split!.newRegionId, 2n],
    );
    const limited = await client.unary("scanRegions", {
      header,
      startKey: new TextEncoder().encode("n"),
      endKey: new Uint8Array(),
      limit: 1,
    });
    assert.deepEqual(
      limited.regions.map((info) => info.region?.id),
      [2n],
    );
    const backwards = await client.unary("scanRegions", {
      header,
      startKey: new TextEncoder().encode("z"),
      endKey: new TextEncoder().encode("a"),
      limit: 0,
    });
    assert.equal(errorType(backwards), ErrorType.INVALID_ARGUMENT);
  });

  it("the GC safe point only moves forward", async () => {
    const header = client.header();
    assert.equal((await client.unary("updateGcSafePoint", { header, safePoint: 100n })).newSafePoint, 100n);
    assert.equal((await client.unary("updateGcSafePoint", { header, safePoint: 50n })).newSafePoint, 100n);
    assert.equal((await client.unary("getGcSafePoint", { header })).safePoint, 100n);
  });

  it("timestamps are strictly increasing for each of 8 concurrent clients and unique across them", async () => {
    const clients = await Promise.all(
      Array.from({ length: 8 }, () => new PdTestClient(cluster.members[0]!.clientUrl).connect()),
    );
    try {
      const perClient = await Promise.all(
        clients.map(async (tsoClient, index) => {
          const stream = tsoClient.tsoStream();
          const owned: bigint[] = [];
          for (let request = 0; request < 200; request++) {
            const count = 1 + ((request * 31 + index) % 64);
            const response = await stream.request({ header: tsoClient.header(), count });
            assert.equal(errorType(response), ErrorType.OK);
            assert.equal(response.count, count);
            const last = timestampFromProto(response.timestamp!);
            for (let offset = BigInt(count - 1); offset >= 0n; offset--) owned.push(last - offset);
          }
          stream.close();
          return owned;
        }),
      );
      for (const owned of perClient) {
        for (let index = 1; index < owned.length; index++) assert.ok(owned[index]! > owned[index - 1]!);
      }
      const all = perClient.flat();
      assert.equal(new Set(all).size, all.length);
    } finally {
      for (const tsoClient of clients) tsoClient.close();
    }
  });

  it("answers with an error, and keeps serving afterwards, when storage fails", async () => {
    const header = client.header();
    cluster.group.failure = new Error("injected storage outage");
    try {
      const refused = await client.unary("putStore", { header, store: store(9n) });
      assert.equal(errorType(refused), ErrorType.UNKNOWN);
      assert.match(refused.header!.error!.message, /injected storage outage/);
    } finally {
      cluster.group.failure = undefined;
    }
    assert.equal(errorType(await client.unary("putStore", { header, store: store(9n) })), ErrorType.OK);
  });

  it("refuses TSO counts it cannot serve", async () => {
    const stream = client.tsoStream();
    const zero = await stream.request({ header: client.header(), count: 0 });
    assert.equal(errorType(zero), ErrorType.INVALID_ARGUMENT);
    stream.close();
  });
});

describe("pd followers", () => {
  const cluster = new InProcessPdCluster();

  after(() => cluster.closeAll());

  it("answer leader-only RPCs with NOT_LEADER naming the leader, and serve once elected", async () => {
    const leader = await cluster.start();
    await cluster.waitServing(leader);
    const follower = await cluster.start();
    assert.equal(follower.clusterId, leader.clusterId);
    const followerClient = await new PdTestClient(follower.clientUrl).connect();
    const leaderClient = await new PdTestClient(leader.clientUrl).connect();
    try {
      const refused = await followerClient.unary("allocId", { header: followerClient.header() });
      assert.equal(errorType(refused), ErrorType.NOT_LEADER);
      assert.equal(refused.header?.error?.leader?.name, leader.member.name);
      assert.deepEqual(refused.header?.error?.leader?.clientUrls, leader.member.clientUrls);
      const tso = followerClient.tsoStream();
      const refusedTso = await tso.request({ header: followerClient.header(), count: 1 });
      assert.equal(errorType(refusedTso), ErrorType.NOT_LEADER);
      tso.close();
      const members = await followerClient.unary("getMembers", { header: followerClient.header() });
      assert.equal(members.leader?.name, leader.member.name);
      assert.equal(members.members.length, 2);

      const leaderStream = leaderClient.tsoStream();
      const before = timestampFromProto(
        (await leaderStream.request({ header: leaderClient.header(), count: 1 })).timestamp!,
      );
      leaderStream.close();
      cluster.group.elect(follower.member.memberId);
      await cluster.waitServing(follower);
      const moved = await leaderClient.unary("allocId", { header: leaderClient.header() });
      assert.equal(errorType(moved), ErrorType.NOT_LEADER);
      assert.equal(moved.header?.error?.leader?.name, follower.member.name);
      const followerStream = followerClient.tsoStream();
      const after = await followerStream.request({ header: followerClient.header(), count: 1 });
      followerStream.close();
      assert.equal(errorType(after), ErrorType.OK);
      assert.ok(timestampFromProto(after.timestamp!) > before);
    } finally {
      followerClient.close();
      leaderClient.close();
    }
  });
});
