import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { metapb, pdpb } from "#proto";
import type { Clock } from "#runtime";
import type { MetaStorage } from "../storage/index.ts";
import { openMemoryBackend, testMember } from "../testing/memory-backend.ts";
import { ClusterBootstrapper } from "./bootstrap.ts";
import {
  AlreadyBootstrappedError,
  InvalidMetadataError,
  NotBootstrappedError,
  StaleLeaderTermError,
  StoreNotFoundError,
  StoreTombstoneError,
} from "./cluster-errors.ts";
import { ClusterState } from "./cluster-state.ts";
import type { RegionInfo } from "./cluster-view.ts";
import { StaleRegionError } from "./region-tree.ts";

const DISCONNECT_MS = 20_000;
const DOWN_MS = 60_000;
const CLUSTER_ID = 7n;

class ManualClock implements Clock {
  wallMs = Date.UTC(2024, 0, 1);
  monotonic = 0;
  nowMs(): number {
    return this.wallMs;
  }
  monotonicMs(): number {
    return this.monotonic;
  }
  advance(ms: number): void {
    this.wallMs += ms;
    this.monotonic += ms;
  }
}

function store(id: bigint, state = metapb.StoreState.UP): metapb.Store {
  return metapb.Store.fromPartial({ id, address: `127.0.0.1:${20_000 + Number(id)}`, state });
}

function peer(id: bigint, storeId: bigint): metapb.Peer {
  return { id, storeId, role: metapb.PeerRole.VOTER };
}

function regionInfo(meta: Partial<metapb.Region>, leader?: metapb.Peer): RegionInfo {
  return {
    meta: metapb.Region.fromPartial({ regionEpoch: { version: 1n, confVer: 1n }, ...meta }),
    leader,
    downPeers: [],
    pendingPeers: [],
    approximateSizeBytes: 1000,
    approximateKeys: 10,
  };
}

function newState(storage: MetaStorage, clock: Clock): ClusterState {
  return new ClusterState({ storage, clock, storeDisconnectMs: DISCONNECT_MS, storeDownMs: DOWN_MS });
}

/** A bootstrapped cluster: store 1 holding region 2 (peer 3) over the whole key space. */
async function bootstrapped() {
  const { backend } = openMemoryBackend(testMember("pd", 1n));
  const clock = new ManualClock();
  const cluster = newState(backend.storage, clock);
  const bootstrapper = new ClusterBootstrapper(cluster, CLUSTER_ID, 3);
  await bootstrapper.bootstrap({
    store: store(1n),
    region: regionInfo({ id: 2n, peers: [peer(3n, 1n)] }).meta,
  });
  return { storage: backend.storage, clock, cluster, bootstrapper };
}

describe("ClusterState stores", () => {
  it("moves a silent store from up to disconnected to down, and back up on a heartbeat", async () => {
    const { clock, cluster } = await bootstrapped();
    assert.equal(cluster.store(1n)?.health, "up");
    clock.advance(DISCONNECT_MS);
    assert.equal(cluster.store(1n)?.health, "disconnected");
    clock.advance(DOWN_MS - DISCONNECT_MS);
    assert.equal(cluster.store(1n)?.health, "down");
    await cluster.storeHeartbeat(pdpb.StoreStats.fromPartial({ storeId: 1n, capacity: 100n }));
    const info = cluster.store(1n)!;
    assert.equal(info.health, "up");
    assert.equal(info.stats?.capacity, 100n);
    assert.equal(info.lastHeartbeatMs, clock.wallMs);
  });

  it("measures silence on the monotonic clock, so a wall-clock jump does not mark stores down", async () => {
    const { clock, cluster } = await bootstrapped();
    clock.wallMs += 10 * DOWN_MS;
    assert.equal(cluster.store(1n)?.health, "up");
  });

  it("reports the stopping flag from store heartbeats", async () => {
    const { cluster } = await bootstrapped();
    assert.equal(cluster.store(1n)?.stopping, false);
    await cluster.storeHeartbeat(pdpb.StoreStats.fromPartial({ storeId: 1n, isStopping: true }));
    assert.equal(cluster.store(1n)?.stopping, true);
  });

  it("rejects heartbeats from unknown stores and tombstones, and never revives a tombstone", async () => {
    const { cluster } = await bootstrapped();
    await assert.rejects(
      cluster.storeHeartbeat(pdpb.StoreStats.fromPartial({ storeId: 99n })),
      StoreNotFoundError,
    );
    await cluster.putStore(store(4n));
    await cluster.putStore(store(4n, metapb.StoreState.TOMBSTONE));
    assert.equal(cluster.store(4n)?.health, "tombstone");
    await assert.rejects(
      cluster.storeHeartbeat(pdpb.StoreStats.fromPartial({ storeId: 4n })),
      StoreTombstoneError,
    );
    await assert.rejects(cluster.putStore(store(4n)), StoreTombstoneError);
  });

  it("rejects malformed stores and a second store on the same address", async () => {
    const { cluster } = await bootstrapped();
    await assert.rejects(cluster.putStore(undefined), InvalidMetadataError);
    await assert.rejects(
      cluster.putStore(metapb.Store.fromPartial({ id: 0n, address: "x:1" })),
      InvalidMetadataError,
    );
    await assert.rejects(cluster.putStore(metapb.Store.fromPartial({ id: 5n })), InvalidMetadataError);
    await assert.rejects(
      cluster.putStore({ ...store(5n), address: store(1n).address }),
      /already used by store 1/,
    );
  });

  it("removes a store: offline while it holds regions, tombstone once they are gone", async () => {
    const { cluster } = await bootstrapped();
    await cluster.putStore(store(4n));
    await cluster.regionHeartbeat(
      regionInfo(
        { id: 2n, peers: [peer(3n, 1n), peer(5n, 4n)], regionEpoch: { version: 1n, confVer: 2n } },
        peer(3n, 1n),
      ),
    );
    assert.equal((await cluster.removeStore(4n)).health, "offline");
    // A restarting store reporting itself up does not undo the removal.
    await cluster.putStore(store(4n));
    assert.equal(cluster.store(4n)?.health, "offline");
    await cluster.regionHeartbeat(
      regionInfo({ id: 2n, peers: [peer(3n, 1n)], regionEpoch: { version: 1n, confVer: 3n } }, peer(3n, 1n)),
    );
    assert.deepEqual(await cluster.tombstoneEmptyOfflineStores(), [4n]);
    assert.equal(cluster.store(4n)?.health, "tombstone");
  });

  it("requires bootstrap before stores register", async () => {
    const { backend } = openMemoryBackend(testMember("pd", 1n));
    const cluster = newState(backend.storage, new ManualClock());
    await assert.rejects(cluster.putStore(store(1n)), NotBootstrappedError);
  });
});

describe("ClusterState regions", () => {
  it("counts regions, leaders and size per store from heartbeats", async () => {
    const { cluster } = await bootstrapped();
    await cluster.putStore(store(4n));
    await cluster.regionHeartbeat(
      regionInfo(
        {
          id: 2n,
          endKey: new Uint8Array([0x6d]),
          peers: [peer(3n, 1n), peer(5n, 4n)],
          regionEpoch: { version: 2n, confVer: 2n },
        },
        peer(5n, 4n),
      ),
    );
    await cluster.regionHeartbeat(
      regionInfo(
        {
          id: 6n,
          startKey: new Uint8Array([0x6d]),
          peers: [peer(7n, 1n)],
          regionEpoch: { version: 2n, confVer: 1n },
        },
        peer(7n, 1n),
      ),
    );
    assert.deepEqual(
      [cluster.store(1n)?.regionCount, cluster.store(1n)?.leaderCount, cluster.store(1n)?.regionSizeBytes],
      [2, 1, 2000],
    );
    assert.deepEqual([cluster.store(4n)?.regionCount, cluster.store(4n)?.leaderCount], [1, 1]);
    assert.deepEqual(
      [...cluster.leaderRegionsOnStore(4n)].map((info) => info.meta.id),
      [2n],
    );
    assert.deepEqual([...cluster.regionsOnStore(1n)].map((info) => info.meta.id).sort(), [2n, 6n]);
    assert.equal(cluster.regionByKey(new Uint8Array([0x70]))?.meta.id, 6n);
  });

  it("rejects stale heartbeats and keeps the newer region", async () => {
    const { cluster } = await bootstrapped();
    await cluster.regionHeartbeat(
      regionInfo({ id: 2n, peers: [peer(3n, 1n)], regionEpoch: { version: 3n, confVer: 3n } }),
    );
    await assert.rejects(
      cluster.regionHeartbeat(
        regionInfo({ id: 2n, peers: [peer(3n, 1n)], regionEpoch: { version: 2n, confVer: 3n } }),
      ),
      StaleRegionError,
    );
    await assert.rejects(
      cluster.regionHeartbeat(
        regionInfo({ id: 2n, peers: [peer(3n, 1n)], regionEpoch: { version: 3n, confVer: 1n } }),
      ),
      StaleRegionError,
    );
    assert.equal(cluster.region(2n)?.meta.regionEpoch?.version, 3n);
  });

  it("rejects a deposed leader's report at the same epoch but an older raft term", async () => {
    const { cluster } = await bootstrapped();
    await cluster.putStore(store(4n));
    const meta = { id: 2n, peers: [peer(3n, 1n), peer(5n, 4n)], regionEpoch: { version: 1n, confVer: 2n } };
    await cluster.regionHeartbeat(regionInfo(meta, peer(5n, 4n)), 7n);
    await assert.rejects(cluster.regionHeartbeat(regionInfo(meta, peer(3n, 1n)), 6n), StaleLeaderTermError);
    assert.equal(cluster.region(2n)?.leader?.storeId, 4n);
    // A newer epoch wins regardless of the term it reports.
    await cluster.regionHeartbeat(
      regionInfo({ ...meta, regionEpoch: { version: 2n, confVer: 2n } }, peer(3n, 1n)),
      6n,
    );
    assert.equal(cluster.region(2n)?.leader?.storeId, 1n);
  });

  it("rejects malformed regions with a message naming the problem", async () => {
    const { cluster } = await bootstrapped();
    const cases: Array<[Partial<metapb.Region>, RegExp]> = [
      [{ id: 2n, peers: [] }, /no peers/],
      [
        { id: 2n, peers: [peer(3n, 1n)], startKey: new Uint8Array([2]), endKey: new Uint8Array([1]) },
        /not below end key/,
      ],
      [
        { id: 2n, peers: [peer(3n, 1n)], startKey: new Uint8Array([1]), endKey: new Uint8Array([1]) },
        /not below end key/,
      ],
      [{ id: 0n, peers: [peer(3n, 1n)] }, /region id 0/],
      [{ id: 2n, peers: [peer(3n, 1n), peer(3n, 4n)] }, /appears twice/],
    ];
    for (const [meta, message] of cases) {
      await assert.rejects(cluster.regionHeartbeat(regionInfo(meta)), (error: unknown) => {
        assert.ok(error instanceof InvalidMetadataError);
        assert.match(error.message, message);
        return true;
      });
    }
    const withoutEpoch: RegionInfo = { ...regionInfo({ id: 2n, peers: [peer(3n, 1n)] }) };
    await assert.rejects(
      cluster.regionHeartbeat({ ...withoutEpoch, meta: { ...withoutEpoch.meta, regionEpoch: undefined } }),
      /no region epoch/,
    );
    await assert.rejects(
      cluster.regionHeartbeat(regionInfo({ id: 2n, peers: [peer(3n, 1n)] }, peer(9n, 4n))),
      /not one of its peers/,
    );
  });

  it("reloads stores and regions from storage, as a new leader does after a restart", async () => {
    const { storage, clock, cluster } = await bootstrapped();
    await cluster.putStore(store(4n));
    await cluster.regionHeartbeat(
      regionInfo({
        id: 2n,
        endKey: new Uint8Array([0x6d]),
        peers: [peer(3n, 1n)],
        regionEpoch: { version: 2n, confVer: 1n },
      }),
    );
    await cluster.reportSplit([
      regionInfo({
        id: 6n,
        startKey: new Uint8Array([0x6d]),
        peers: [peer(7n, 1n)],
        regionEpoch: { version: 2n, confVer: 1n },
      }).meta,
    ]);
    const reloaded = newState(storage, clock);
    const loaded = await reloaded.load();
    assert.deepEqual(loaded, { stores: 2, regions: 2, skippedRegions: 0 });
    assert.equal(reloaded.isBootstrapped, true);
    assert.deepEqual(
      reloaded.stores().map((info) => info.meta.id),
      [1n, 4n],
    );
    assert.deepEqual(
      [...reloaded.regions()].map((info) => info.meta.id),
      [2n, 6n],
    );
    assert.equal(reloaded.region(2n)?.meta.regionEpoch?.version, 2n);
  });

  it("deletes regions a newer region covers from storage", async () => {
    const { storage, clock, cluster } = await bootstrapped();
    await cluster.regionHeartbeat(
      regionInfo({ id: 8n, peers: [peer(9n, 1n)], regionEpoch: { version: 5n, confVer: 1n } }),
    );
    assert.equal(cluster.region(2n), undefined);
    const reloaded = newState(storage, clock);
    await reloaded.load();
    assert.deepEqual(
      [...reloaded.regions()].map((info) => info.meta.id),
      [8n],
    );
  });
});

describe("ClusterBootstrapper", () => {
  it("bootstraps once and refuses a second bootstrap", async () => {
    const { bootstrapper, cluster } = await bootstrapped();
    assert.equal(bootstrapper.isBootstrapped(), true);
    assert.equal(cluster.regionByKey(new Uint8Array([0xff]))?.meta.id, 2n);
    await assert.rejects(
      bootstrapper.bootstrap({
        store: store(10n),
        region: regionInfo({ id: 11n, peers: [peer(12n, 10n)] }).meta,
      }),
      AlreadyBootstrappedError,
    );
  });

  it("lets exactly one of two concurrent bootstraps win", async () => {
    const { backend } = openMemoryBackend(testMember("pd", 1n));
    const bootstrapper = new ClusterBootstrapper(newState(backend.storage, new ManualClock()), CLUSTER_ID, 3);
    const results = await Promise.allSettled([
      bootstrapper.bootstrap({
        store: store(1n),
        region: regionInfo({ id: 2n, peers: [peer(3n, 1n)] }).meta,
      }),
      bootstrapper.bootstrap({
        store: store(4n),
        region: regionInfo({ id: 5n, peers: [peer(6n, 4n)] }).meta,
      }),
    ]);
    assert.deepEqual(results.map((result) => result.status).sort(), ["fulfilled", "rejected"]);
  });

  it("refuses a first region that does not cover the key space from the bootstrapping store", async () => {
    const { backend } = openMemoryBackend(testMember("pd", 1n));
    const bootstrapper = new ClusterBootstrapper(newState(backend.storage, new ManualClock()), CLUSTER_ID, 3);
    await assert.rejects(
      bootstrapper.bootstrap({
        store: store(1n),
        region: regionInfo({ id: 2n, endKey: new Uint8Array([1]), peers: [peer(3n, 1n)] }).meta,
      }),
      /whole key space/,
    );
    await assert.rejects(
      bootstrapper.bootstrap({
        store: store(1n),
        region: regionInfo({ id: 2n, peers: [peer(3n, 9n)] }).meta,
      }),
      /bootstrapping store 1/,
    );
    await assert.rejects(
      bootstrapper.bootstrap({ store: store(1n), region: undefined }),
      InvalidMetadataError,
    );
    assert.equal(bootstrapper.isBootstrapped(), false);
  });
});
