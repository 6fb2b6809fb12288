import assert from "node:assert/strict";
import { afterEach, describe, test } from "node:test";
import { metapb, pdpb } from "#proto";
import { systemTimers, type TimerHandle, type Timers } from "#runtime";
import { TestPdServer } from "../testing/pd-server.ts";
import { unusedAddress } from "../testing/unused-address.ts";
import { PdClient } from "./pd-client.ts";
import type { PdClientOptions } from "./pd-client-options.ts";
import {
  PdClientClosedError,
  PdClusterMismatchError,
  PdServerError,
  PdUnavailableError,
} from "./pd-errors.ts";

const CLUSTER_ID = 7n;
const FAST_BACKOFF = { baseMs: 5, capMs: 50 };

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function startPd(name: string, clusterId = CLUSTER_ID): Promise<TestPdServer> {
  const pd = await TestPdServer.start({ clusterId, name });
  cleanups.push(() => pd.close());
  return pd;
}

async function connect(endpoints: string[], options: Partial<PdClientOptions> = {}): Promise<PdClient> {
  const client = await PdClient.connect({ endpoints, reconnectBackoff: FAST_BACKOFF, ...options });
  cleanups.push(() => client.close());
  return client;
}

/** Timers that know how many are still armed, so a test can prove nothing outlives a close. */
function countedTimers(): { readonly timers: Timers; armed(): number } {
  const live = new Set<TimerHandle>();
  const track = (
    arm: (fire: () => void) => TimerHandle,
    once: boolean,
    callback: () => void,
  ): TimerHandle => {
    const inner = arm(() => {
      if (once) live.delete(handle);
      callback();
    });
    const handle: TimerHandle = {
      cancel: () => {
        live.delete(handle);
        inner.cancel();
      },
    };
    live.add(handle);
    return handle;
  };
  return {
    timers: {
      setTimeout: (callback, delayMs) =>
        track((fire) => systemTimers.setTimeout(fire, delayMs), true, callback),
      setInterval: (callback, intervalMs) =>
        track((fire) => systemTimers.setInterval(fire, intervalMs), false, callback),
    },
    armed: () => live.size,
  };
}

async function waitUntil(condition: () => boolean): Promise<void> {
  for (let round = 0; round < 400 && !condition(); round++)
    await new Promise((resolve) => setTimeout(resolve, 5));
  assert.ok(condition(), "condition not reached");
}

describe("pd client: finding and following the leader", () => {
  test("connect skips an unreachable endpoint and learns the cluster id and leader from a member", async () => {
    const pd = await startPd("pd-a");
    const client = await connect([await unusedAddress(), `http://${pd.address}`]);

    assert.equal(client.clusterId, CLUSTER_ID);
    assert.equal(client.leaderAddress, pd.address);
    assert.equal(await client.allocId(), 1000n);
  });

  test("a member answering NOT_LEADER with a hint sends the call to the named leader", async () => {
    const follower = await startPd("pd-a");
    const leader = await startPd("pd-b");
    const client = await connect([follower.address]);
    follower.mode = "not-leader";
    follower.leaderHint = leader.member;

    const id = await client.allocId();

    assert.equal(id, 1000n);
    assert.deepEqual(
      follower.unaryCalls.filter((method) => method === "AllocID"),
      ["AllocID"],
    );
    assert.deepEqual(leader.unaryCalls, ["AllocID"]);
    assert.equal(client.leaderAddress, leader.address);
  });

  test("after the leader dies the client rediscovers the new leader through another member", async () => {
    const first = await startPd("pd-a");
    const second = await startPd("pd-b");
    first.otherMembers = [second.member];
    const client = await connect([first.address]);
    assert.equal(client.leaderAddress, first.address);

    first.close();
    const id = await client.allocId();
    const timestamp = await client.getTimestamp();

    assert.equal(id, 1000n);
    assert.equal(typeof timestamp, "bigint");
    assert.equal(client.leaderAddress, second.address);
  });

  test("the member list is refreshed periodically, picking up a leader change without any failure", async () => {
    const first = await startPd("pd-a");
    const second = await startPd("pd-b");
    const client = await connect([first.address], { memberRefreshIntervalMs: 20 });

    first.leaderHint = second.member;
    await waitUntil(() => client.leaderAddress === second.address);
    await client.getTimestamp();

    assert.equal(second.tsoStreamsOpened, 1);
  });
});

describe("pd client: concurrency", () => {
  test("many concurrent unary calls all complete, without a listener-leak warning", async () => {
    const pd = await startPd("pd-a");
    const client = await connect([pd.address]);
    const warnings: Error[] = [];
    const onWarning = (warning: Error): void => {
      warnings.push(warning);
    };
    process.on("warning", onWarning);
    try {
      const ids = await Promise.all(Array.from({ length: 50 }, () => client.allocId()));
      await new Promise((resolve) => setImmediate(resolve));
      assert.equal(new Set(ids).size, 50);
      assert.deepEqual(
        warnings.map((warning) => warning.name),
        [],
      );
    } finally {
      process.off("warning", onWarning);
    }
  });
});

describe("pd client: errors", () => {
  test("no reachable member: PdUnavailableError names every endpoint tried", async () => {
    const endpoints = [await unusedAddress(), await unusedAddress()];

    await assert.rejects(
      PdClient.connect({ endpoints, connectTimeoutMs: 200, reconnectBackoff: FAST_BACKOFF }),
      (error) => {
        assert.ok(error instanceof PdUnavailableError);
        assert.deepEqual([...error.endpoints].sort(), [...endpoints].sort());
        assert.match(error.message, new RegExp(endpoints[0]!.replace(".", "\\.")));
        return true;
      },
    );
  });

  test("a member of another cluster is refused with PdClusterMismatchError", async () => {
    const pd = await startPd("pd-a", 99n);

    await assert.rejects(
      PdClient.connect({ endpoints: [pd.address], clusterId: CLUSTER_ID, connectTimeoutMs: 200 }),
      (error) => {
        assert.ok(error instanceof PdClusterMismatchError);
        assert.equal(error.expectedClusterId, CLUSTER_ID);
        assert.equal(error.actualClusterId, 99n);
        return true;
      },
    );
  });

  test("a pd header error surfaces as PdServerError with its type", async () => {
    const pd = await startPd("pd-a");
    const client = await connect([pd.address]);
    const store = metapb.Store.fromPartial({ id: 1n, address: "127.0.0.1:20160" });
    const region = metapb.Region.fromPartial({ id: 2n, peers: [{ id: 3n, storeId: 1n }] });

    await assert.rejects(client.bootstrap(store, region), (error) => {
      assert.ok(error instanceof PdServerError);
      assert.equal(error.errorType, pdpb.ErrorType.ALREADY_BOOTSTRAPPED);
      assert.equal(error.endpoint, pd.address);
      return true;
    });
  });

  test("REGION_NOT_FOUND makes getRegion answer undefined", async () => {
    const pd = await startPd("pd-a");
    const client = await connect([pd.address]);

    assert.equal(await client.getRegion(new Uint8Array([1, 2])), undefined);
  });

  test("a unary call to a member that never answers fails after its deadline", async () => {
    const pd = await startPd("pd-a");
    const client = await connect([pd.address]);
    pd.mode = "silent";

    await assert.rejects(client.allocId({ timeoutMs: 150 }), (error) => {
      assert.ok(error instanceof PdUnavailableError);
      assert.ok(error.endpoints.includes(pd.address));
      return true;
    });
  });

  test("close leaves no timer armed while the streams are reopening against a pd that went away", async () => {
    const pd = await startPd("pd-a");
    const { timers, armed } = countedTimers();
    const client = await connect([pd.address], { timers, memberRefreshIntervalMs: 10 });
    client.regionHeartbeatStream({ onResponse: () => {} });
    const timestamp = client.getTimestamp().catch((error: unknown) => error);
    // pd goes away: the heartbeat stream and the TSO stream keep reopening, the refresh keeps asking.
    pd.close();
    await new Promise((resolve) => setTimeout(resolve, 50));
    await client.close();
    assert.ok((await timestamp) instanceof Error);
    assert.equal(armed(), 0, "a timer is still armed after close");
  });

  test("calls after close fail with PdClientClosedError", async () => {
    const pd = await startPd("pd-a");
    const client = await connect([pd.address]);
    await client.close();

    await assert.rejects(client.allocId(), PdClientClosedError);
    assert.throws(() => client.regionHeartbeatStream({ onResponse: () => {} }), PdClientClosedError);
  });
});

describe("pd client: region heartbeat stream", () => {
  const region = (id: bigint) => ({
    id,
    startKey: new Uint8Array(),
    endKey: new Uint8Array(),
    regionEpoch: { confVer: 1n, version: 1n },
    peers: [{ id: id + 100n, storeId: 1n, role: 0 }],
  });
  const heartbeat = (id: bigint) => pdpb.RegionHeartbeatRequest.fromPartial({ region: region(id) });

  test("heartbeats reach pd with the cluster id, and operators come back", async () => {
    const pd = await startPd("pd-a");
    const client = await connect([pd.address], { senderId: 4n });
    const responses: pdpb.RegionHeartbeatResponse[] = [];
    const stream = client.regionHeartbeatStream({ onResponse: (response) => responses.push(response) });

    stream.send(heartbeat(1n));
    await waitUntil(() => pd.regionHeartbeats.length === 1);
    pd.pushOperator(
      pdpb.RegionHeartbeatResponse.fromPartial({ regionId: 1n, transferLeader: { peer: { id: 9n } } }),
    );
    await waitUntil(() => responses.length === 1);

    assert.equal(pd.regionHeartbeats[0]!.header?.clusterId, CLUSTER_ID);
    assert.equal(pd.regionHeartbeats[0]!.header?.senderId, 4n);
    assert.equal(responses[0]!.regionId, 1n);
    assert.equal(responses[0]!.transferLeader?.peer?.id, 9n);
  });

  test("a broken stream reopens, reports the reconnect, and later heartbeats arrive", async () => {
    const pd = await startPd("pd-a");
    const client = await connect([pd.address]);
    let reconnects = 0;
    const stream = client.regionHeartbeatStream({ onResponse: () => {}, onReconnect: () => reconnects++ });
    await waitUntil(() => pd.regionHeartbeatStreamsOpened === 1);

    pd.breakStreams();
    await waitUntil(() => pd.regionHeartbeatStreamsOpened === 2);
    stream.send(heartbeat(5n));
    await waitUntil(() => pd.regionHeartbeats.length === 1);

    assert.equal(reconnects, 2);
    assert.equal(pd.regionHeartbeats[0]!.region?.id, 5n);
  });

  test("NOT_LEADER on the stream moves it to the named leader", async () => {
    const follower = await startPd("pd-a");
    const leader = await startPd("pd-b");
    const client = await connect([follower.address]);
    const stream = client.regionHeartbeatStream({ onResponse: () => {} });
    follower.mode = "not-leader";
    follower.leaderHint = leader.member;

    stream.send(heartbeat(1n));
    await waitUntil(() => leader.regionHeartbeatStreamsOpened === 1);
    stream.send(heartbeat(2n));
    await waitUntil(() => leader.regionHeartbeats.length === 1);

    assert.equal(leader.regionHeartbeats[0]!.region?.id, 2n);
    assert.equal(client.leaderAddress, leader.address);
  });
});
