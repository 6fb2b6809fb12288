/**
 * The TinyKV 3B scenarios of the seed notes (shared/seeds/001), on pd and real stores over gRPC. Each
 * bug the notes describe has a step here that would expose it:
 * - a removed peer that does not destroy itself, or writes after destroying itself (stale apply state
 *   when the same peer id comes back: "lastIndex 0 < appliedIndex 8");
 * - a re-added peer on a store that held an older one never created (maybeCreatePeer refusing the
 *   leader's messages) so the region stalls with two voters;
 * - confVer going backwards after restarts ("unmatched conf version");
 * - a two-voter region removing its leader and losing quorum.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { eraftpb, type metapb } from "#proto";
import { sleep } from "#runtime";
import { InvalidPeerChangeError } from "../../../services/tikv-store/src/raftstore/store.ts";
import { DELIVER, DROP } from "../../../services/tikv-store/src/server/transport-filter.ts";
import { bytes, text } from "../../../services/tikv-store/src/testing/bytes.ts";
import {
  checkReplicasConverge,
  waitEngineValue,
  waitPeerGone,
} from "../../../services/tikv-store/src/testing/cluster/cluster-checks.ts";
import {
  PdOperatorError,
  StoreCluster,
  type StoreClusterOptions,
} from "../../../services/tikv-store/src/testing/cluster/store-cluster.ts";
import { AppendWorkload } from "./append-workload.ts";
import { genericTest } from "./generic-test.ts";

const FIRST_KEY = new Uint8Array();

async function withCluster(
  options: Omit<StoreClusterOptions, "transport">,
  body: (cluster: StoreCluster) => Promise<void>,
): Promise<void> {
  const cluster = await StoreCluster.start({ ...options, transport: "grpc" });
  try {
    await body(cluster);
  } catch (error) {
    throw new Error(`${options.label} (SEED=${cluster.seed}) failed:\n${cluster.describe()}`, {
      cause: error,
    });
  } finally {
    await cluster.close();
  }
}

async function put(cluster: StoreCluster, key: string, value: string): Promise<void> {
  await (await cluster.client()).put(bytes(key), bytes(value));
}

async function get(cluster: StoreCluster, key: string): Promise<string | undefined> {
  return text(await (await cluster.client()).get(bytes(key)));
}

function firstRegionId(cluster: StoreCluster): bigint {
  const leader = cluster.leaderOf(FIRST_KEY);
  assert.ok(leader, "the first region has no leader");
  return leader.region.id;
}

function peerOn(cluster: StoreCluster, regionId: bigint, index: number): metapb.Peer {
  const leader = cluster.leaderOfRegion(regionId);
  const peer = leader?.region.peers.find((candidate) => candidate.storeId === cluster.storeId(index));
  assert.ok(peer, `region ${regionId} has no peer on store ${index}`);
  return peer;
}

// A guard against a hung cluster (it fails instead of blocking the suite), not a speed assertion.
describe("TinyKV 3B seed scenarios over real gRPC", { timeout: 5 * 60_000 }, () => {
  it("TestBasicConfChange3B: shrink to one peer, re-add the same and a new peer id, remove the peer holding the data", async () => {
    await withCluster({ label: "basic conf change", stores: 5, replicas: 5 }, async (cluster) => {
      const regionId = firstRegionId(cluster);
      await cluster.transferLeader(regionId, 0);
      const original = [1, 2].map((index) => peerOn(cluster, regionId, index));
      for (const index of [1, 2, 3, 4]) await cluster.removePeer(regionId, index);
      for (const index of [1, 2, 3, 4]) await waitPeerGone(cluster, index, regionId);

      await put(cluster, "k1", "v1");
      await waitEngineValue(cluster, 1, "k1", undefined);

      // Peer id of the first incarnation on store 1 again: its tombstone must not stop the new one.
      await cluster.addPeer(regionId, 1, { via: "facade", peerId: original[0]!.id });
      await put(cluster, "k2", "v2");
      await waitEngineValue(cluster, 1, "k1", "v1");
      await waitEngineValue(cluster, 1, "k2", "v2");
      const epoch = (await cluster.pdClient.getRegion(bytes("k1")))?.region.regionEpoch;
      assert.ok((epoch?.confVer ?? 0n) > 1n, `conf_ver ${epoch?.confVer} after six membership changes`);
      await waitEngineValue(cluster, 4, "k1", undefined);

      await cluster.addPeer(regionId, 2, { via: "facade", peerId: original[1]!.id });
      await cluster.removePeer(regionId, 1, { via: "facade" });
      await put(cluster, "k3", "v3");
      for (const [key, value] of [
        ["k1", "v1"],
        ["k2", "v2"],
        ["k3", "v3"],
      ] as const) {
        await waitEngineValue(cluster, 2, key, value);
      }
      await waitPeerGone(cluster, 1, regionId);
      await waitEngineValue(cluster, 1, "k1", undefined);
      await waitEngineValue(cluster, 1, "k2", undefined);

      // Back and gone again with the same id, then a fresh id on the store that had the older one.
      await cluster.addPeer(regionId, 1, { via: "facade", peerId: original[0]!.id });
      for (const [key, value] of [
        ["k1", "v1"],
        ["k2", "v2"],
        ["k3", "v3"],
      ] as const) {
        await waitEngineValue(cluster, 1, key, value);
      }
      await cluster.removePeer(regionId, 1);
      await waitPeerGone(cluster, 1, regionId);
      const fresh = await cluster.addPeer(regionId, 1);
      assert.notEqual(fresh.id, original[0]!.id, "pd reused a peer id");

      // The peer that held the data longest goes; the fresh one must have got everything from the leader.
      await cluster.removePeer(regionId, 2);
      await put(cluster, "k4", "v4");
      await waitEngineValue(cluster, 1, "k1", "v1");
      await waitEngineValue(cluster, 1, "k4", "v4");
      await waitPeerGone(cluster, 2, regionId);
      await waitEngineValue(cluster, 2, "k1", undefined);
      await waitEngineValue(cluster, 2, "k4", undefined);
      assert.equal(await get(cluster, "k3"), "v3");
      await checkReplicasConverge(cluster);
    });
  });

  it("TestConfChangeRecover3B, scripted: conf changes while stores crash; the epoch never goes back", async () => {
    await withCluster({ label: "conf change recover", stores: 4, replicas: 3 }, async (cluster) => {
      const regionId = firstRegionId(cluster);
      await cluster.transferLeader(regionId, 0);
      const monitor = new PdEpochMonitor(cluster, regionId);
      try {
        await put(cluster, "k", "v");
        await cluster.stop(1);
        await cluster.addPeer(regionId, 3);
        await cluster.restart(1);
        await cluster.stop(2);
        await put(cluster, "k2", "v2");
        await cluster.removePeer(regionId, 1);
        await cluster.restart(2);
        await cluster.addPeer(regionId, 1);
        await cluster.stop(0);
        await put(cluster, "k3", "v3");
        await cluster.restart(0);
        await checkReplicasConverge(cluster);
        for (const peer of cluster.leaderOfRegion(regionId)!.region.peers) {
          const index = cluster.indexOf(peer.storeId);
          for (const [key, value] of [
            ["k", "v"],
            ["k2", "v2"],
            ["k3", "v3"],
          ] as const) {
            await waitEngineValue(cluster, index, key, value);
          }
        }
      } finally {
        await monitor.stop();
      }
      assert.deepEqual(monitor.regressions, [], "pd saw the region's epoch go backwards");
    });
  });

  it("TestConfChangeRecover3B: GenericTest with one client, crashes and conf changes", async () => {
    const report = await genericTest({
      label: "conf change recover generic",
      clients: 1,
      unreliable: false,
      crash: true,
      partitions: false,
      maxRaftLog: undefined,
      confChange: true,
      split: false,
    });
    console.log(
      `[seed] conf change recover: seed ${report.seed}, ${report.workload}; nemesis ${report.nemesis}`,
    );
  });

  it("TestConfChangeSnapshotUnreliableRecoverConcurrentPartition3B: conf change, snapshots, unreliable network, partitions", async () => {
    const report = await genericTest({
      label: "conf change snapshot unreliable partition",
      clients: 5,
      unreliable: true,
      crash: true,
      partitions: true,
      maxRaftLog: 50,
      confChange: true,
      split: false,
    });
    console.log(
      `[seed] conf change snapshot unreliable: seed ${report.seed}, ${report.workload}; nemesis ${report.nemesis}`,
    );
  });

  it("a one-voter region refuses to remove its leader and keeps serving", async () => {
    await withCluster({ label: "one voter", stores: 2, replicas: 1 }, async (cluster) => {
      const regionId = firstRegionId(cluster);
      await put(cluster, "a", "1");
      const leader = cluster.leaderOfRegion(regionId)!;
      await assert.rejects(cluster.removePeer(regionId, leader.index), PdOperatorError);
      await assert.rejects(
        leader.store.changePeer(regionId, { type: "remove", peer: leader.peer }),
        InvalidPeerChangeError,
      );
      await put(cluster, "b", "2");
      assert.equal(await get(cluster, "a"), "1");
      assert.equal(await get(cluster, "b"), "2");
    });
  });

  it("a two-voter region removes its leader (through pd, then through the store) and keeps its quorum", async () => {
    await withCluster({ label: "two voters", stores: 2, replicas: 2 }, async (cluster) => {
      const regionId = firstRegionId(cluster);
      await put(cluster, "a", "1");
      const first = cluster.leaderOfRegion(regionId)!.index;
      await cluster.removePeer(regionId, first);
      await waitPeerGone(cluster, first, regionId);
      const survivor = cluster.leaderOfRegion(regionId)!;
      assert.notEqual(survivor.index, first);
      assert.equal(survivor.region.peers.length, 1);
      await put(cluster, "b", "2");

      await cluster.addPeer(regionId, first);
      await put(cluster, "c", "3");
      const second = cluster.leaderOfRegion(regionId)!.index;
      await cluster.removePeer(regionId, second, { via: "facade" });
      await waitPeerGone(cluster, second, regionId);
      await put(cluster, "d", "4");
      for (const [key, value] of [
        ["a", "1"],
        ["b", "2"],
        ["c", "3"],
        ["d", "4"],
      ] as const) {
        assert.equal(await get(cluster, key), value);
      }
    });
  });

  it("splits during an unreliable network leave every replica with the same regions and data", async () => {
    await withCluster({ label: "split unreliable", stores: 3 }, async (cluster) => {
      const workload = new AppendWorkload(await cluster.client(), {
        label: "split-unreliable",
        clients: 3,
        keysPerClient: 12,
        valuePaddingBytes: 16,
        random: cluster.random.fork(),
      });
      cluster.unreliable(true);
      workload.start();
      const splitKeys = [
        "split-unreliable/c00/k0004",
        "split-unreliable/c01",
        "split-unreliable/c01/k0008",
        "split-unreliable/c02/k0002",
      ];
      for (const [position, key] of splitKeys.entries()) {
        await cluster.split(bytes(key), { via: position % 2 === 0 ? "pd" : "facade" });
        await sleep(200);
      }
      cluster.heal();
      await workload.stop(20_000);
      await workload.verify();
      assert.deepEqual(workload.violations, [], workload.describeStats());
      assert.ok((await cluster.regions()).length >= splitKeys.length + 1);
      await checkReplicasConverge(cluster);
    });
  });

  /**
   * Store 2 misses the split entry while the new region's leader (moved to store 1) already talks to it:
   * its parent peer still covers the new region's range, so the new region's messages must wait (no
   * overlapping peer created) until the split applies there.
   */
  const lateFollowers: ReadonlyArray<readonly [string, (cluster: StoreCluster, parent: bigint) => void]> = [
    ["cut off from every store", (cluster) => cluster.isolate(2)],
    [
      "missing only the parent region's appends",
      (cluster, parent) =>
        cluster.addFilter(
          {
            description: `drop appends of region ${parent} to store 2`,
            decide: (message, direction) =>
              direction === "send" &&
              message.regionId === parent &&
              message.toPeer?.storeId === cluster.storeId(2) &&
              message.message?.msgType === eraftpb.MessageType.APPEND
                ? DROP
                : DELIVER,
          },
          [0, 1],
        ),
    ],
  ];
  for (const [how, delaySplit] of lateFollowers) {
    it(`a split region whose leadership then moves, with one follower ${how} applying the split late`, async () => {
      await withCluster({ label: `split then leader change (${how})`, stores: 3 }, async (cluster) => {
        await put(cluster, "a", "1");
        await put(cluster, "x", "1");
        const parent = firstRegionId(cluster);
        await cluster.transferLeader(parent, 0);
        delaySplit(cluster, parent);
        await cluster.split(bytes("m"));
        const left = cluster.leaderOf(bytes("a"))!.region.id;
        const right = cluster.leaderOf(bytes("x"))!.region.id;
        assert.notEqual(left, right);
        await cluster.transferLeader(right, 1);
        await put(cluster, "y", "2");
        await put(cluster, "b", "2");
        cluster.heal();
        await checkReplicasConverge(cluster);
        // Both regions led from store 2 read back everything: its copies of both halves are complete.
        await cluster.transferLeader(left, 2);
        await cluster.transferLeader(right, 2);
        for (const [key, value] of [
          ["a", "1"],
          ["b", "2"],
          ["x", "1"],
          ["y", "2"],
        ] as const) {
          assert.equal(await get(cluster, key), value);
        }
        assert.equal(text(cluster.store(2).region(left)?.endKey), "m");
        assert.equal(text(cluster.store(2).region(right)?.startKey), "m");
      });
    });
  }
});

/** Samples pd's view of a region every few milliseconds and records any epoch that went backwards. */
class PdEpochMonitor {
  readonly regressions: string[] = [];
  private running = true;
  private readonly loop: Promise<void>;

  constructor(
    private readonly cluster: StoreCluster,
    private readonly regionId: bigint,
  ) {
    this.loop = this.sample();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }

  private async sample(): Promise<void> {
    let previous: metapb.RegionEpoch | undefined;
    while (this.running) {
      const epoch = (await this.cluster.pdClient.getRegionById(this.regionId).catch(() => undefined))?.region
        .regionEpoch;
      if (epoch !== undefined && previous !== undefined) {
        if (epoch.confVer < previous.confVer || epoch.version < previous.version) {
          this.regressions.push(
            `conf_ver ${previous.confVer} → ${epoch.confVer}, version ${previous.version} → ${epoch.version}`,
          );
        }
      }
      previous = epoch ?? previous;
      await sleep(20);
    }
  }
}
