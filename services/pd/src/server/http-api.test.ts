import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { metapb, pdpb } from "#proto";
import { InProcessPdCluster } from "../testing/in-process-pd.ts";
import { PdTestClient } from "../testing/pd-test-client.ts";
import type { RunningPd } from "./pd-server.ts";

interface JsonResponse {
  readonly status: number;
  readonly body: Record<string, unknown>;
  readonly location: string | null;
}

async function request(pd: RunningPd, method: string, path: string, body?: unknown): Promise<JsonResponse> {
  const response = await fetch(`${pd.httpUrl}${path}`, {
    method,
    redirect: "manual",
    ...(body === undefined ? {} : { body: typeof body === "string" ? body : JSON.stringify(body) }),
  });
  const text = await response.text();
  return {
    status: response.status,
    body: text.startsWith("{") || text.startsWith("[") ? JSON.parse(text) : { text },
    location: response.headers.get("location"),
  };
}

function peer(id: bigint, storeId: bigint): metapb.Peer {
  return { id, storeId, role: metapb.PeerRole.VOTER };
}

describe("pd HTTP API", () => {
  const cluster = new InProcessPdCluster();
  let pd: RunningPd;
  let client: PdTestClient;
  let heartbeats: ReturnType<PdTestClient["heartbeatStream"]>;
  const operatorReplies: pdpb.RegionHeartbeatResponse[] = [];
  const region2 = metapb.Region.fromPartial({
    id: 2n,
    endKey: new TextEncoder().encode("m"),
    regionEpoch: { version: 2n, confVer: 2n },
    peers: [peer(3n, 1n), peer(6n, 4n)],
  });

  before(async () => {
    pd = await cluster.start();
    await cluster.waitServing(pd);
    client = await new PdTestClient(pd.clientUrl).connect();
    const header = client.header();
    const store = (id: bigint) =>
      metapb.Store.fromPartial({ id, address: `127.0.0.1:${20_000 + Number(id)}` });
    await client.unary("bootstrap", {
      header,
      store: store(1n),
      region: metapb.Region.fromPartial({
        id: 2n,
        regionEpoch: { version: 1n, confVer: 1n },
        peers: [peer(3n, 1n)],
      }),
    });
    await client.unary("putStore", { header, store: store(4n) });
    await client.unary("reportBatchSplit", {
      header,
      regions: [
        region2,
        metapb.Region.fromPartial({
          id: 7n,
          startKey: new TextEncoder().encode("m"),
          regionEpoch: { version: 2n, confVer: 1n },
          peers: [peer(8n, 1n)],
        }),
      ],
    });
    heartbeats = client.heartbeatStream();
    heartbeats.on("data", (reply: pdpb.RegionHeartbeatResponse) => operatorReplies.push(reply));
    await new Promise<void>((resolve) => {
      heartbeats.write(
        pdpb.RegionHeartbeatRequest.fromPartial({ header, region: region2, leader: peer(3n, 1n) }),
      );
      // A GetRegion after the write sees the heartbeat's leader once the stream has processed it.
      const poll = async (): Promise<void> => {
        const got = await client.unary("getRegionById", { header, regionId: 2n });
        if (got.leader?.id === 3n) resolve();
        else setTimeout(() => void poll(), 5);
      };
      void poll();
    });
  });
  after(async () => {
    heartbeats?.end();
    client?.close();
    await cluster.closeAll();
  });

  it("serves /status, /metrics and /health beside the API", async () => {
    const status = await request(pd, "GET", "/status");
    assert.equal(status.body.component, "pd");
    assert.equal(status.body.clusterId, pd.clusterId.toString());
    assert.equal(status.body.isLeader, true);
    const metrics = await request(pd, "GET", "/metrics");
    assert.match(String(metrics.body.text), /pd_grpc_requests_total/);
    assert.equal((await request(pd, "GET", "/health")).status, 200);
  });

  it("lists members and their health", async () => {
    const members = await request(pd, "GET", "/pd/api/v1/members");
    assert.equal((members.body.leader as { name: string }).name, "pd-1");
    assert.equal(members.body.cluster_id, pd.clusterId.toString());
    const health = await request(pd, "GET", "/pd/api/v1/health");
    assert.deepEqual(
      (health.body as unknown as Array<{ name: string; health: boolean }>).map((member) => [
        member.name,
        member.health,
      ]),
      [["pd-1", true]],
    );
  });

  it("shows stores, one store, and clear errors for unknown or malformed ids", async () => {
    const stores = await request(pd, "GET", "/pd/api/v1/stores");
    assert.equal(stores.body.count, 2);
    const one = await request(pd, "GET", "/pd/api/v1/store/1");
    assert.equal(one.status, 200);
    assert.equal(one.body.id, "1");
    assert.equal(one.body.health, "up");
    assert.equal(one.body.region_count, 2);
    assert.equal(one.body.leader_count, 1);
    const missing = await request(pd, "GET", "/pd/api/v1/store/999");
    assert.equal(missing.status, 404);
    assert.match(String(missing.body.error), /store 999 not found/);
    assert.equal((await request(pd, "GET", "/pd/api/v1/store/abc")).status, 400);
    assert.equal((await request(pd, "GET", "/pd/api/v1/nothing")).status, 404);
    assert.equal((await request(pd, "PUT", "/pd/api/v1/stores")).status, 405);
  });

  it("finds regions by id, by UTF-8 or hex key, and lists them in key order", async () => {
    const list = await request(pd, "GET", "/pd/api/v1/regions");
    assert.deepEqual(
      (list.body.regions as Array<{ id: string }>).map((region) => region.id),
      ["2", "7"],
    );
    const byId = await request(pd, "GET", "/pd/api/v1/region/id/2");
    assert.equal(byId.body.end_key, Buffer.from("m").toString("hex"));
    assert.deepEqual(byId.body.epoch, { conf_ver: "2", version: "2" });
    assert.equal((byId.body.leader as { store_id: string }).store_id, "1");
    assert.equal((await request(pd, "GET", "/pd/api/v1/region/key/zebra")).body.id, "7");
    assert.equal((await request(pd, "GET", "/pd/api/v1/region/key/61?format=hex")).body.id, "2");
    assert.equal((await request(pd, "GET", "/pd/api/v1/region/key/6?format=hex")).status, 400);
    assert.equal((await request(pd, "GET", "/pd/api/v1/region/id/404")).status, 404);
    const limited = await request(
      pd,
      "GET",
      `/pd/api/v1/regions?key=${Buffer.from("n").toString("hex")}&limit=1`,
    );
    assert.deepEqual(
      (limited.body.regions as Array<{ id: string }>).map((region) => region.id),
      ["7"],
    );
  });

  it("adds a transfer-leader operator whose step reaches the region's leader at once and with each heartbeat", async () => {
    const pushed = new Promise<pdpb.RegionHeartbeatResponse>((resolve) => heartbeats.once("data", resolve));
    const added = await request(pd, "POST", "/pd/api/v1/operators", {
      name: "transfer-leader",
      region_id: 2,
      to_store_id: "4",
    });
    assert.equal(added.status, 200, JSON.stringify(added.body));
    // No heartbeat was sent since the operator was added: pd used the stream store 1 reports on.
    const first = await pushed;
    assert.equal(first.regionId, 2n);
    assert.equal(first.transferLeader?.peer?.storeId, 4n);
    assert.equal(first.header?.clusterId, client.clusterId);
    const listed = await request(pd, "GET", "/pd/api/v1/operators");
    assert.deepEqual(
      (listed.body.operators as Array<{ regionId: string }>).map((operator) => operator.regionId),
      ["2"],
    );
    const delivered = new Promise<pdpb.RegionHeartbeatResponse>((resolve) =>
      heartbeats.once("data", resolve),
    );
    heartbeats.write(
      pdpb.RegionHeartbeatRequest.fromPartial({
        header: client.header(),
        region: region2,
        leader: peer(3n, 1n),
      }),
    );
    const reply = await delivered;
    assert.equal(reply.regionId, 2n);
    assert.equal(reply.transferLeader?.peer?.storeId, 4n);
  });

  it("refuses malformed operator requests with 400 and unknown regions with 404", async () => {
    assert.equal((await request(pd, "POST", "/pd/api/v1/operators", "{not json")).status, 400);
    const unknownName = await request(pd, "POST", "/pd/api/v1/operators", { name: "teleport", region_id: 2 });
    assert.equal(unknownName.status, 400);
    assert.match(String(unknownName.body.error), /"name" must be one of/);
    const badId = await request(pd, "POST", "/pd/api/v1/operators", {
      name: "add-peer",
      region_id: -1,
      store_id: 4,
    });
    assert.equal(badId.status, 400);
    const unknownRegion = await request(pd, "POST", "/pd/api/v1/operators", {
      name: "add-peer",
      region_id: 999,
      store_id: 4,
    });
    assert.equal(unknownRegion.status, 404);
  });

  it("lists schedulers, pauses one and evicts leaders from a store", async () => {
    const paused = await request(pd, "POST", "/pd/api/v1/schedulers/balance-leader-scheduler/pause", {
      delay: 60,
    });
    assert.equal(paused.status, 200);
    assert.equal((await request(pd, "POST", "/pd/api/v1/schedulers/nope/pause", { delay: 1 })).status, 404);
    assert.equal(
      (await request(pd, "POST", "/pd/api/v1/schedulers/balance-leader-scheduler/pause", { delay: -1 }))
        .status,
      400,
    );
    assert.equal((await request(pd, "POST", "/pd/api/v1/store/4/evict-leader")).status, 200);
    assert.equal((await request(pd, "POST", "/pd/api/v1/store/999/evict-leader")).status, 404);
    const schedulers = (await request(pd, "GET", "/pd/api/v1/schedulers")).body.schedulers as Array<{
      name: string;
      paused: boolean;
      storeIds: string[];
    }>;
    assert.equal(schedulers.find((scheduler) => scheduler.name === "balance-leader-scheduler")?.paused, true);
    assert.deepEqual(schedulers.find((scheduler) => scheduler.name === "evict-leader-scheduler")?.storeIds, [
      "4",
    ]);
  });

  it("redirects leader-only routes on a follower to the leader", async () => {
    const follower = await cluster.start();
    const redirected = await request(follower, "GET", "/pd/api/v1/stores?x=1");
    assert.equal(redirected.status, 307);
    assert.equal(redirected.location, `${pd.httpUrl}/pd/api/v1/stores?x=1`);
    const followed = await fetch(`${follower.httpUrl}/pd/api/v1/store/1`);
    assert.equal(followed.status, 200);
    const members = await request(follower, "GET", "/pd/api/v1/members");
    assert.equal((members.body.members as unknown[]).length, 2);
  });
});
