/**
 * The pd worker on a virtual clock with a recording pd client and a stub store: which heartbeats go out
 * when, what they carry, and which store calls pd's operators turn into.
 */
import assert from "node:assert/strict";
import { tmpdir } from "node:os";
import { afterEach, beforeEach, describe, test } from "node:test";
import { eraftpb, metapb, pdpb } from "#proto";
import { Scheduler, VirtualClock } from "#sim";
import type { PeerChange } from "../raftstore/raft-command.ts";
import type { RegionHeartbeatInfo } from "../raftstore/store.ts";
import { silentLogger } from "../testing/silent-observability.ts";
import { waitFor } from "../testing/wait-for.ts";
import { PdWorker, type PdWorkerClient, type PdWorkerStore, PENDING_PEER_CHECK_MS } from "./pd-worker.ts";

const STORE_ID = 1n;
const STORE_HEARTBEAT_MS = 10_000;
const REGION_HEARTBEAT_MS = 60_000;
const epoch = { confVer: 2n, version: 3n };

function ledRegion(id: bigint, peers: metapb.Peer[] = []): RegionHeartbeatInfo {
  const leader = metapb.Peer.fromPartial({ id: id * 10n + 1n, storeId: STORE_ID });
  return {
    region: metapb.Region.fromPartial({ id, regionEpoch: epoch, peers: [leader, ...peers] }),
    leader,
    term: 5n,
    downPeers: [],
    pendingPeers: [],
    approximateSizeBytes: 1024,
    approximateKeys: 10,
  };
}

class StubStore implements PdWorkerStore {
  readonly storeId = STORE_ID;
  regions: RegionHeartbeatInfo[] = [ledRegion(1n), ledRegion(2n)];
  readonly calls: string[] = [];
  /** Resolves operators' promises when the test says so. */
  hold: Promise<void> = Promise.resolve();

  regionsForHeartbeat(): Iterable<RegionHeartbeatInfo> {
    return this.regions;
  }

  regionHeartbeat(regionId: bigint): RegionHeartbeatInfo | undefined {
    return this.regions.find((info) => info.region.id === regionId);
  }

  storeStats() {
    return {
      regionCount: 7,
      leaderCount: this.regions.length,
      sendingSnapshotCount: 0,
      receivingSnapshotCount: 1,
      applyingSnapshotCount: 0,
      usedSizeBytes: 4096,
      isBusy: false,
    };
  }

  async changePeer(regionId: bigint, change: PeerChange) {
    this.calls.push(`change ${regionId} ${change.type} ${change.peer.id} role=${change.peer.role}`);
    await this.hold;
  }

  transferLeader(regionId: bigint, toPeer: metapb.Peer): void {
    this.calls.push(`transfer ${regionId} ${toPeer.id}`);
  }

  async splitRegion(regionId: bigint, splitKeys: readonly Uint8Array[]) {
    this.calls.push(`split ${regionId} [${splitKeys.map((key) => Buffer.from(key).toString()).join(",")}]`);
    return [];
  }
}

class RecordingPd implements PdWorkerClient {
  readonly storeHeartbeats: pdpb.StoreStats[] = [];
  readonly regionHeartbeats: bigint[] = [];
  handlers: { onResponse(response: pdpb.RegionHeartbeatResponse): void; onReconnect?(): void } | undefined;
  closed = false;

  async storeHeartbeat(stats: pdpb.StoreStats): Promise<unknown> {
    this.storeHeartbeats.push(stats);
    return {};
  }

  regionHeartbeatStream(handlers: RecordingPd["handlers"] & object) {
    this.handlers = handlers;
    return {
      send: (heartbeat: Omit<pdpb.RegionHeartbeatRequest, "header">) => {
        this.regionHeartbeats.push(heartbeat.region!.id);
      },
      close: () => {
        this.closed = true;
      },
    };
  }

  operator(fields: pdpb.DeepPartial<pdpb.RegionHeartbeatResponse>): void {
    this.handlers!.onResponse(
      pdpb.RegionHeartbeatResponse.fromPartial({ regionId: 1n, regionEpoch: epoch, ...fields }),
    );
  }
}

/** Lets promise callbacks (the statfs call, operators) run between virtual-time steps. */
async function settle(): Promise<void> {
  for (let round = 0; round < 5; round++) await new Promise((resolve) => setImmediate(resolve));
}

describe("pd worker", () => {
  let scheduler: Scheduler;
  let store: StubStore;
  let pd: RecordingPd;
  let worker: PdWorker;

  beforeEach(() => {
    scheduler = new Scheduler();
    const clock = new VirtualClock(scheduler);
    store = new StubStore();
    pd = new RecordingPd();
    worker = new PdWorker({
      store,
      pd,
      dataDir: tmpdir(),
      storeHeartbeatIntervalMs: STORE_HEARTBEAT_MS,
      regionHeartbeatIntervalMs: REGION_HEARTBEAT_MS,
      clock,
      timers: clock,
      logger: silentLogger(),
    });
    worker.start();
  });
  afterEach(() => worker.close());

  test("store heartbeats: at start and every interval, with disk and region figures", async () => {
    // Each heartbeat reads the file system (statfs), so its arrival is awaited rather than assumed.
    await waitFor("the first store heartbeat", () => pd.storeHeartbeats.length === 1);
    for (const expected of [2, 3]) {
      scheduler.runFor(STORE_HEARTBEAT_MS);
      await waitFor(`store heartbeat ${expected}`, () => pd.storeHeartbeats.length === expected);
    }
    const stats = pd.storeHeartbeats[0]!;
    assert.equal(stats.storeId, STORE_ID);
    assert.ok(stats.capacity > 0n && stats.available > 0n && stats.available <= stats.capacity);
    assert.deepEqual([stats.regionCount, stats.leaderCount, stats.receivingSnapCount], [7, 2, 1]);
    assert.equal(stats.usedSize, 4096n);
    assert.equal(stats.isStopping, false);
  });

  test("a heartbeat due while the previous one is still in flight is folded into it", async () => {
    // Virtual time runs synchronously, so the first heartbeat's statfs cannot finish meanwhile.
    scheduler.runFor(STORE_HEARTBEAT_MS * 3);
    await waitFor("the first store heartbeat", () => pd.storeHeartbeats.length === 1);
    await settle();
    assert.equal(pd.storeHeartbeats.length, 1);
  });

  test("reportStopping sends a heartbeat with is_stopping at once", async () => {
    await waitFor("the first store heartbeat", () => pd.storeHeartbeats.length === 1);
    await worker.reportStopping();
    assert.equal(pd.storeHeartbeats.at(-1)?.isStopping, true);
  });

  test("region heartbeats: changed regions soon, all regions periodically and after a reconnect", () => {
    worker.regionChanged(2n);
    worker.regionChanged(2n);
    scheduler.runFor(1);
    assert.deepEqual(pd.regionHeartbeats, [2n], "one heartbeat for the changed region only");

    pd.regionHeartbeats.length = 0;
    scheduler.runFor(REGION_HEARTBEAT_MS);
    assert.deepEqual(pd.regionHeartbeats, [1n, 2n]);

    pd.regionHeartbeats.length = 0;
    pd.handlers!.onReconnect!();
    assert.deepEqual(pd.regionHeartbeats, [1n, 2n]);
  });

  test("change-peer operators become add-learner, promote and remove", async () => {
    const learner = metapb.Peer.fromPartial({ id: 30n, storeId: 3n, role: metapb.PeerRole.LEARNER });
    store.regions = [ledRegion(1n, [learner])];
    pd.operator({
      changePeer: { peer: { id: 40n, storeId: 4n }, changeType: eraftpb.ConfChangeType.ADD_LEARNER_NODE },
    });
    await settle();
    pd.operator({
      changePeer: { peer: { id: 30n, storeId: 3n }, changeType: eraftpb.ConfChangeType.ADD_NODE },
    });
    await settle();
    pd.operator({
      changePeer: { peer: { id: 30n, storeId: 3n }, changeType: eraftpb.ConfChangeType.REMOVE_NODE },
    });
    await settle();
    assert.deepEqual(store.calls, [
      `change 1 add-learner 40 role=${metapb.PeerRole.LEARNER}`,
      `change 1 promote 30 role=${metapb.PeerRole.VOTER}`,
      "change 1 remove 30 role=0",
    ]);
  });

  test("transfer-leader and split operators; a split without keys leaves the key to the store", async () => {
    pd.operator({ transferLeader: { peer: { id: 12n, storeId: 2n } } });
    pd.operator({
      regionId: 2n,
      splitRegion: { policy: pdpb.CheckPolicy.USE_KEY, keys: [Buffer.from("m"), Buffer.from("t")] },
    });
    await settle();
    pd.operator({ regionId: 2n, splitRegion: { policy: pdpb.CheckPolicy.APPROXIMATE, keys: [] } });
    await settle();
    pd.operator({ regionId: 1n, splitRegion: { policy: pdpb.CheckPolicy.SCAN, keys: [] } });
    await settle();
    assert.deepEqual(store.calls, ["transfer 1 12", "split 2 [m,t]", "split 2 []", "split 1 []"]);
  });

  test("operators for a stale epoch, a region not led here, or an error reply are ignored", async () => {
    const transfer = { transferLeader: { peer: { id: 12n, storeId: 2n } } };
    pd.operator({ ...transfer, regionEpoch: { confVer: 1n, version: 3n } });
    pd.operator({ ...transfer, regionId: 9n });
    pd.operator({
      ...transfer,
      header: { clusterId: 1n, error: { type: pdpb.ErrorType.STALE_REGION, message: "" } },
    });
    await settle();
    assert.deepEqual(store.calls, []);
  });

  test("an operator repeated while the first run is in progress runs once", async () => {
    let release = () => {};
    store.hold = new Promise((resolve) => (release = resolve));
    const addLearner = {
      changePeer: { peer: { id: 40n, storeId: 4n }, changeType: eraftpb.ConfChangeType.ADD_LEARNER_NODE },
    };
    pd.operator(addLearner);
    pd.operator(addLearner);
    await settle();
    assert.equal(store.calls.length, 1);
    release();
    await settle();
    pd.operator(addLearner);
    await settle();
    assert.equal(store.calls.length, 2, "after it finished, pd's repeat runs again");
  });
  test("a region reported with pending peers is reported again as soon as they have caught up", () => {
    const learner = metapb.Peer.fromPartial({ id: 30n, storeId: 3n, role: metapb.PeerRole.LEARNER });
    const catchingUp = { ...ledRegion(1n, [learner]), pendingPeers: [learner] };
    store.regions = [catchingUp];
    worker.regionChanged(1n);
    scheduler.runFor(1);
    assert.deepEqual(pd.regionHeartbeats, [1n]);

    scheduler.runFor(PENDING_PEER_CHECK_MS * 5);
    assert.deepEqual(pd.regionHeartbeats, [1n], "nothing new to say while the learner catches up");

    store.regions = [{ ...catchingUp, pendingPeers: [] }];
    scheduler.runFor(PENDING_PEER_CHECK_MS);
    assert.deepEqual(pd.regionHeartbeats, [1n, 1n], "reported within one check of catching up");

    scheduler.runFor(REGION_HEARTBEAT_MS - PENDING_PEER_CHECK_MS * 7 - 1);
    assert.deepEqual(pd.regionHeartbeats, [1n, 1n], "and then no more until the periodic round");
  });

  test("a region led elsewhere by now is no longer followed for its pending peers", () => {
    const learner = metapb.Peer.fromPartial({ id: 30n, storeId: 3n, role: metapb.PeerRole.LEARNER });
    store.regions = [{ ...ledRegion(1n, [learner]), pendingPeers: [learner] }];
    worker.regionChanged(1n);
    scheduler.runFor(1);
    store.regions = [];
    scheduler.runFor(PENDING_PEER_CHECK_MS);
    assert.deepEqual(pd.regionHeartbeats, [1n]);
    // Only the periodic timers are left.
    assert.equal(scheduler.pendingCount, 2);
  });

  test("close gives up on an operator in flight and leaves no timer, stream or task behind", async () => {
    await waitFor("the first store heartbeat", () => pd.storeHeartbeats.length === 1);
    store.hold = new Promise(() => {});
    const learner = metapb.Peer.fromPartial({ id: 30n, storeId: 3n, role: metapb.PeerRole.LEARNER });
    store.regions = [{ ...ledRegion(1n, [learner]), pendingPeers: [learner] }];
    worker.regionChanged(1n);
    scheduler.runFor(1);
    pd.operator({
      changePeer: { peer: { id: 40n, storeId: 4n }, changeType: eraftpb.ConfChangeType.ADD_LEARNER_NODE },
    });
    await settle();
    assert.equal(store.calls.length, 1, "the operator is running");

    await worker.close();
    assert.equal(pd.closed, true);
    assert.equal(scheduler.pendingCount, 0, "no timer survives close");
    worker.regionChanged(1n);
    pd.operator({ transferLeader: { peer: { id: 12n, storeId: 2n } } });
    await settle();
    assert.equal(scheduler.pendingCount, 0, "a closed worker starts nothing");
    assert.equal(store.calls.length, 1);
  });
});
