import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { metapb } from "#proto";
import type { RegionInfo } from "../cluster/cluster-view.ts";
import { addStores, createScheduleHarness } from "../testing/schedule-harness.ts";
import { heartbeatAll, runSchedulingLoop } from "../testing/schedule-loop.ts";
import type { SimulatedCluster } from "../testing/simulated-cluster.ts";
import type { OperatorView } from "./operator.ts";
import { BALANCE_LEADER_SCHEDULER } from "./schedulers/balance-leader.ts";
import { BALANCE_REGION_SCHEDULER } from "./schedulers/balance-region.ts";
import { EVICT_LEADER_SCHEDULER } from "./schedulers/evict-leader.ts";

function voterStoreIds(region: RegionInfo): bigint[] {
  return region.meta.peers.filter((peer) => peer.role === metapb.PeerRole.VOTER).map((peer) => peer.storeId);
}

function leaderCounts(cluster: SimulatedCluster): Map<bigint, number> {
  return new Map(cluster.stores().map((store) => [store.meta.id, store.leaderCount]));
}

function spread(values: Iterable<number>): number {
  const list = [...values];
  return Math.max(...list) - Math.min(...list);
}

/** Store ids an operator still has to add or remove peers on. */
function pendingPeerStores(operator: OperatorView): bigint[] {
  return operator.steps
    .slice(operator.currentStep)
    .filter((step) => step.kind === "add-learner" || step.kind === "remove-peer")
    .map((step) => (step.kind === "add-learner" || step.kind === "remove-peer" ? step.storeId : 0n));
}

describe("Coordinator: replica repair", () => {
  it("brings every region back to 3 healthy voters after a store goes down, with no peer left on it", async () => {
    const harness = createScheduleHarness();
    const { cluster } = harness;
    const stores = addStores(cluster, 4);
    cluster.addRegions(12, (index) => {
      const storeIds = [0, 1, 2].map((offset) => stores[(index + offset) % 4]!);
      return { storeIds, leaderStoreId: storeIds[index % 3] };
    });
    const coordinator = harness.coordinator();
    const downStore = stores[1]!;
    cluster.setStoreHealth(downStore, "down");

    const result = await runSchedulingLoop({ coordinator, cluster, clock: harness.clock, maxRounds: 100 });

    assert.equal(result.stable, true, `not stable after ${result.rounds} rounds`);
    for (const region of cluster.regions()) {
      const voters = voterStoreIds(region);
      assert.equal(voters.length, 3, `region ${region.meta.id} has voters on ${voters}`);
      assert.equal(new Set(voters).size, 3);
      assert.ok(!voters.includes(downStore));
      assert.equal(region.meta.peers.length, 3, "no learner left behind");
      assert.ok(region.leader !== undefined && region.leader.storeId !== downStore);
    }
    const repairs = coordinator.operatorHistory().filter((view) => view.description === "replace-down-peer");
    assert.equal(repairs.length, 9, "the 9 regions with a peer on the down store were each repaired once");
    assert.ok(repairs.every((view) => view.status === "success"));
  });

  it("keeps a down peer when no other store can take a replacement, and never breaks the quorum", async () => {
    const harness = createScheduleHarness();
    const { cluster } = harness;
    const stores = addStores(cluster, 3);
    cluster.addRegions(6, () => ({ storeIds: stores }));
    const coordinator = harness.coordinator();
    cluster.setStoreHealth(stores[2]!, "down");

    const result = await runSchedulingLoop({ coordinator, cluster, clock: harness.clock, maxRounds: 20 });

    assert.equal(result.stable, true);
    for (const region of cluster.regions()) {
      assert.deepEqual(voterStoreIds(region), stores, "the down peer stays: removing it would not help");
      assert.ok(region.leader !== undefined);
    }
    const peerChanges = coordinator.operatorHistory().filter((view) => view.kind !== "leader");
    assert.deepEqual(peerChanges, [], "only leaders moved");
  });

  it("replaces peers on an offline store even though it still serves, moving its leaders first", async () => {
    const harness = createScheduleHarness();
    const { cluster } = harness;
    const stores = addStores(cluster, 4);
    cluster.addRegions(4, () => ({ storeIds: stores.slice(0, 3), leaderStoreId: stores[0] }));
    const coordinator = harness.coordinator();
    cluster.setStoreHealth(stores[0]!, "offline");

    const result = await runSchedulingLoop({ coordinator, cluster, clock: harness.clock, maxRounds: 60 });

    assert.equal(result.stable, true);
    for (const region of cluster.regions()) {
      assert.deepEqual(new Set(voterStoreIds(region)), new Set(stores.slice(1)));
    }
  });

  it("never has more running operators touching a store's peers than the per-store limit", async () => {
    const harness = createScheduleHarness({ storeLimitOperatorsPerStore: 2 });
    const { cluster } = harness;
    const stores = addStores(cluster, 5);
    cluster.addRegions(20, () => ({ storeIds: stores.slice(0, 3) }));
    const coordinator = harness.coordinator();
    cluster.setStoreHealth(stores[2]!, "down");
    let highestSeen = 0;

    const result = await runSchedulingLoop({
      coordinator,
      cluster,
      clock: harness.clock,
      maxRounds: 200,
      afterSchedule: () => {
        const perStore = new Map<bigint, number>();
        for (const operator of coordinator.operators()) {
          for (const storeId of new Set(pendingPeerStores(operator))) {
            perStore.set(storeId, (perStore.get(storeId) ?? 0) + 1);
          }
        }
        for (const [storeId, count] of perStore) {
          assert.ok(count <= 2, `store ${storeId} has ${count} pending peer operators`);
          highestSeen = Math.max(highestSeen, count);
        }
      },
    });

    assert.equal(result.stable, true);
    assert.equal(highestSeen, 2, "the limit was reached, so it was what held scheduling back");
    for (const region of cluster.regions()) assert.ok(!voterStoreIds(region).includes(stores[2]!));
  });
});

describe("Coordinator: scheduling passes", () => {
  it("joins a pass already in progress instead of starting a second one", async () => {
    const harness = createScheduleHarness();
    const stores = addStores(harness.cluster, 3);
    harness.cluster.addRegions(9, () => ({ storeIds: stores, leaderStoreId: stores[0] }));
    const coordinator = harness.coordinator();
    const first = coordinator.runOnce();
    assert.equal(coordinator.runOnce(), first);
    await first;
    assert.notEqual(coordinator.runOnce(), first);
  });

  it("respects the cluster-wide limits for repair, leader and region operators", async () => {
    const harness = createScheduleHarness({
      replicaScheduleLimit: 2,
      leaderScheduleLimit: 1,
      regionScheduleLimit: 1,
    });
    const { cluster } = harness;
    const stores = addStores(cluster, 5);
    cluster.addRegions(6, () => ({ storeIds: stores.slice(0, 3), leaderStoreId: stores[0] }));
    cluster.addRegions(6, () => ({ storeIds: stores.slice(1, 4), leaderStoreId: stores[1] }));
    cluster.addRegions(6, () => ({ storeIds: stores.slice(0, 3), leaderStoreId: stores[0] }));
    const coordinator = harness.coordinator();
    cluster.setStoreHealth(stores[3]!, "down");

    await coordinator.runOnce();

    const kinds = coordinator.operators().map((view) => view.kind);
    assert.equal(kinds.filter((kind) => kind === "replica").length, 2);
    assert.equal(kinds.filter((kind) => kind === "leader").length, 1);
    assert.equal(kinds.filter((kind) => kind === "region").length, 1);
  });
});

describe("Coordinator: leader balance", () => {
  it("spreads leaders from one store to within the tolerance, then stops", async () => {
    const harness = createScheduleHarness();
    const { cluster } = harness;
    const stores = addStores(cluster, 3);
    cluster.addRegions(30, () => ({ storeIds: stores, leaderStoreId: stores[0] }));
    const coordinator = harness.coordinator();

    const result = await runSchedulingLoop({ coordinator, cluster, clock: harness.clock, maxRounds: 30 });

    assert.equal(result.stable, true, `not stable after ${result.rounds} rounds`);
    const counts = leaderCounts(cluster);
    assert.ok(
      spread(counts.values()) <= harness.config.leaderBalanceTolerance,
      `leader counts ${[...counts.values()]}`,
    );
    const transfers = coordinator.operatorHistory().length;
    assert.ok(transfers <= 20, `${transfers} transfers; moving 20 leaders is the most needed`);

    const again = await runSchedulingLoop({ coordinator, cluster, clock: harness.clock, maxRounds: 10 });
    assert.equal(again.rounds, 1, "balanced: the next pass creates nothing");
    assert.equal(coordinator.operatorHistory().length, transfers);
  });

  it("does not balance while paused and resumes afterwards", async () => {
    const harness = createScheduleHarness();
    const { cluster } = harness;
    const stores = addStores(cluster, 3);
    cluster.addRegions(9, () => ({ storeIds: stores, leaderStoreId: stores[0] }));
    const coordinator = harness.coordinator();
    coordinator.pauseScheduler(BALANCE_LEADER_SCHEDULER, 60);

    const paused = await runSchedulingLoop({ coordinator, cluster, clock: harness.clock, maxRounds: 5 });
    assert.equal(paused.stable, true);
    assert.equal(leaderCounts(cluster).get(stores[0]!), 9);
    const view = coordinator.schedulers().find((scheduler) => scheduler.name === BALANCE_LEADER_SCHEDULER);
    assert.equal(view?.paused, true);

    coordinator.resumeScheduler(BALANCE_LEADER_SCHEDULER);
    await runSchedulingLoop({ coordinator, cluster, clock: harness.clock, maxRounds: 30 });
    assert.ok(spread(leaderCounts(cluster).values()) <= harness.config.leaderBalanceTolerance);
  });

  it("resumes a paused scheduler by itself when the pause ends", async () => {
    const harness = createScheduleHarness();
    const stores = addStores(harness.cluster, 3);
    harness.cluster.addRegions(9, () => ({ storeIds: stores, leaderStoreId: stores[0] }));
    const coordinator = harness.coordinator();
    coordinator.pauseScheduler(BALANCE_LEADER_SCHEDULER, 2);
    await coordinator.runOnce();
    assert.equal(coordinator.operators().length, 0);
    harness.clock.advance(2000);

    await runSchedulingLoop({ coordinator, cluster: harness.cluster, clock: harness.clock, maxRounds: 30 });

    assert.equal(
      coordinator.schedulers().find((view) => view.name === BALANCE_LEADER_SCHEDULER)?.paused,
      false,
    );
    assert.ok(spread(leaderCounts(harness.cluster).values()) <= harness.config.leaderBalanceTolerance);
  });

  it("lists the schedulers and rejects unknown names and bad pause lengths", () => {
    const coordinator = createScheduleHarness().coordinator();
    assert.deepEqual(
      coordinator.schedulers().map((view) => view.name),
      [EVICT_LEADER_SCHEDULER, BALANCE_LEADER_SCHEDULER, BALANCE_REGION_SCHEDULER],
    );
    assert.throws(() => coordinator.pauseScheduler("balance-hot-region-scheduler", 10), {
      name: "ScheduleRequestError",
      code: "scheduler-not-found",
    });
    assert.throws(() => coordinator.pauseScheduler(BALANCE_REGION_SCHEDULER, 0), {
      code: "invalid-argument",
    });
    assert.throws(() => coordinator.resumeScheduler("nope"), { code: "scheduler-not-found" });
  });
});

describe("Coordinator: region balance", () => {
  it("moves replicas onto a new empty store until counts are within the tolerance", async () => {
    const harness = createScheduleHarness();
    const { cluster } = harness;
    const stores = addStores(cluster, 3);
    cluster.addRegions(12, (index) => ({ storeIds: stores, leaderStoreId: stores[index % 3] }));
    const coordinator = harness.coordinator();
    const newStore = cluster.addStore();

    const result = await runSchedulingLoop({ coordinator, cluster, clock: harness.clock, maxRounds: 100 });

    assert.equal(result.stable, true, `not stable after ${result.rounds} rounds`);
    const counts = cluster.stores().map((store) => store.regionCount);
    assert.ok(spread(counts) <= harness.config.regionBalanceTolerance, `region counts ${counts}`);
    assert.ok((cluster.store(newStore)?.regionCount ?? 0) >= 7, `new store holds ${counts.at(-1)}`);
    for (const region of cluster.regions()) {
      assert.equal(new Set(voterStoreIds(region)).size, 3);
      assert.equal(region.meta.peers.length, 3);
    }
    const moves = coordinator.operatorHistory().filter((view) => view.description === "balance-region");
    assert.ok(moves.every((view) => view.status === "success"));
    const again = await runSchedulingLoop({ coordinator, cluster, clock: harness.clock, maxRounds: 5 });
    assert.equal(again.rounds, 1, "balanced: nothing more to move");
  });

  it("balances by size when regions differ in size", async () => {
    const harness = createScheduleHarness();
    const { cluster } = harness;
    const stores = addStores(cluster, 3);
    const mib = 1024 * 1024;
    for (let index = 0; index < 6; index++) cluster.addRegion({ storeIds: stores, sizeBytes: 64 * mib });
    for (let index = 0; index < 12; index++) cluster.addRegion({ storeIds: stores, sizeBytes: mib });
    const coordinator = harness.coordinator();
    const newStore = cluster.addStore();

    const result = await runSchedulingLoop({ coordinator, cluster, clock: harness.clock, maxRounds: 100 });

    assert.equal(result.stable, true);
    const sizes = cluster.stores().map((store) => store.regionSizeBytes);
    assert.ok(spread(sizes) <= 2 * 64 * mib, `sizes ${sizes.map((size) => size / mib)} MiB`);
    assert.ok(
      (cluster.store(newStore)?.regionSizeBytes ?? 0) >= 200 * mib,
      "the new store took large regions",
    );
  });

  it("does not pile small regions onto a store that holds few but large ones", async () => {
    const harness = createScheduleHarness();
    const { cluster } = harness;
    const stores = addStores(cluster, 4);
    const mib = 1024 * 1024;
    for (let index = 0; index < 3; index++) {
      cluster.addRegion({
        storeIds: [stores[3]!, stores[index]!, stores[(index + 1) % 3]!],
        sizeBytes: 64 * mib,
      });
    }
    for (let index = 0; index < 9; index++)
      cluster.addRegion({ storeIds: stores.slice(0, 3), sizeBytes: mib });
    const coordinator = harness.coordinator();

    const result = await runSchedulingLoop({ coordinator, cluster, clock: harness.clock, maxRounds: 100 });

    assert.equal(result.stable, true);
    // By count store 4 (3 regions against 11) would be the obvious target; by size it already holds the most.
    assert.equal(cluster.store(stores[3]!)?.regionCount, 3);
  });
});

describe("Coordinator: leader eviction", () => {
  it("moves every leader off a stopping store and keeps them off", async () => {
    const harness = createScheduleHarness();
    const { cluster } = harness;
    const stores = addStores(cluster, 3);
    cluster.addRegions(12, (index) => ({ storeIds: stores, leaderStoreId: stores[index % 3] }));
    const coordinator = harness.coordinator();
    cluster.setStopping(stores[0]!, true);

    const result = await runSchedulingLoop({ coordinator, cluster, clock: harness.clock, maxRounds: 20 });

    assert.equal(result.stable, true);
    assert.equal(leaderCounts(cluster).get(stores[0]!), 0);
    assert.equal(cluster.store(stores[0]!)?.regionCount, 12, "eviction moves leaders, not replicas");
  });

  it("evicts on request until the request is withdrawn", async () => {
    const harness = createScheduleHarness();
    const { cluster } = harness;
    const stores = addStores(cluster, 3);
    cluster.addRegions(12, (index) => ({ storeIds: stores, leaderStoreId: stores[index % 3] }));
    const coordinator = harness.coordinator();

    coordinator.evictLeaders(stores[1]!);
    await runSchedulingLoop({ coordinator, cluster, clock: harness.clock, maxRounds: 20 });
    assert.equal(leaderCounts(cluster).get(stores[1]!), 0);
    assert.deepEqual(
      coordinator.schedulers().find((view) => view.name === EVICT_LEADER_SCHEDULER)?.storeIds,
      [stores[1]],
    );

    coordinator.stopEvictingLeaders(stores[1]!);
    await runSchedulingLoop({ coordinator, cluster, clock: harness.clock, maxRounds: 20 });
    assert.ok((leaderCounts(cluster).get(stores[1]!) ?? 0) >= 2, "balance brings leaders back");
  });

  it("rejects evicting an unknown store", () => {
    const coordinator = createScheduleHarness().coordinator();
    assert.throws(() => coordinator.evictLeaders(404n), { code: "store-not-found", storeId: 404n });
  });
});

describe("Coordinator: manual operators", () => {
  function setUp() {
    const harness = createScheduleHarness();
    const stores = addStores(harness.cluster, 4);
    const [regionId] = harness.cluster.addRegions(1, () => ({
      storeIds: stores.slice(0, 3),
      leaderStoreId: stores[0],
    }));
    return { harness, stores, regionId: regionId!, coordinator: harness.coordinator() };
  }

  it("rejects unknown regions and stores with clear errors", async () => {
    const { stores, regionId, coordinator } = setUp();
    await assert.rejects(
      coordinator.addOperator({ kind: "transfer-leader", regionId: 999n, toStoreId: stores[1]! }),
      {
        code: "region-not-found",
        regionId: 999n,
        message: "region 999 is unknown",
      },
    );
    await assert.rejects(coordinator.addOperator({ kind: "add-peer", regionId, storeId: 777n }), {
      code: "store-not-found",
      storeId: 777n,
    });
    await assert.rejects(coordinator.addOperator({ kind: "remove-peer", regionId, storeId: 777n }), {
      code: "store-not-found",
    });
  });

  it("rejects adding a peer where one exists and moving leadership where no voter is", async () => {
    const { stores, regionId, coordinator } = setUp();
    await assert.rejects(coordinator.addOperator({ kind: "add-peer", regionId, storeId: stores[1]! }), {
      code: "invalid-argument",
      message: /already holds peer/,
    });
    await assert.rejects(
      coordinator.addOperator({ kind: "transfer-leader", regionId, toStoreId: stores[3]! }),
      {
        code: "invalid-argument",
        message: /holds no peer/,
      },
    );
    await assert.rejects(
      coordinator.addOperator({ kind: "transfer-leader", regionId, toStoreId: stores[0]! }),
      {
        message: /already leads/,
      },
    );
    await assert.rejects(coordinator.addOperator({ kind: "remove-peer", regionId, storeId: stores[3]! }), {
      code: "invalid-argument",
      message: /holds no peer/,
    });
  });

  it("rejects adding a peer on a down or stopping store", async () => {
    const { harness, stores, regionId, coordinator } = setUp();
    harness.cluster.setStoreHealth(stores[3]!, "down");
    await assert.rejects(coordinator.addOperator({ kind: "add-peer", regionId, storeId: stores[3]! }), {
      code: "invalid-argument",
      message: /cannot take new peers now \(down\)/,
    });
    harness.cluster.setStoreHealth(stores[3]!, "up");
    harness.cluster.setStopping(stores[3]!, true);
    await assert.rejects(coordinator.addOperator({ kind: "add-peer", regionId, storeId: stores[3]! }), {
      message: /stopping/,
    });
  });

  it("never removes the last voter nor a healthy majority", async () => {
    const harness = createScheduleHarness();
    const stores = addStores(harness.cluster, 3);
    const single = harness.cluster.addRegion({ storeIds: [stores[0]!] });
    const triple = harness.cluster.addRegion({ storeIds: stores });
    const coordinator = harness.coordinator();
    await assert.rejects(
      coordinator.addOperator({ kind: "remove-peer", regionId: single, storeId: stores[0]! }),
      {
        code: "invalid-argument",
        message: /last voter/,
      },
    );
    harness.cluster.setStoreHealth(stores[2]!, "down");
    await assert.rejects(
      coordinator.addOperator({ kind: "remove-peer", regionId: triple, storeId: stores[1]! }),
      {
        message: /no quorum/,
      },
    );
  });

  it("transfers leadership before removing the leader's peer", async () => {
    const { harness, stores, regionId, coordinator } = setUp();
    const view = await coordinator.addOperator({ kind: "remove-peer", regionId, storeId: stores[0]! });
    assert.deepEqual(
      view.steps.map((step) => step.kind),
      ["transfer-leader", "remove-peer"],
    );
    assert.equal(view.kind, "admin");

    heartbeatAll(coordinator, harness.cluster);
    assert.notEqual(harness.cluster.region(regionId)?.leader?.storeId, stores[0]);
    heartbeatAll(coordinator, harness.cluster);
    heartbeatAll(coordinator, harness.cluster);
    const region = harness.cluster.region(regionId)!;
    assert.ok(!region.meta.peers.some((peer) => peer.storeId === stores[0]));
    assert.equal(coordinator.operatorHistory().at(-1)?.status, "success");
  });

  it("adds a peer as a learner and promotes it", async () => {
    const { harness, stores, regionId, coordinator } = setUp();
    const view = await coordinator.addOperator({ kind: "add-peer", regionId, storeId: stores[3]! });
    assert.deepEqual(
      view.steps.map((step) => step.kind),
      ["add-learner", "promote-learner"],
    );
    coordinator.pauseScheduler(BALANCE_REGION_SCHEDULER, 3600);
    heartbeatAll(coordinator, harness.cluster);
    harness.cluster.catchUpLearners();
    heartbeatAll(coordinator, harness.cluster);
    heartbeatAll(coordinator, harness.cluster);
    const region = harness.cluster.region(regionId)!;
    assert.ok(voterStoreIds(region).includes(stores[3]!));
    assert.equal(coordinator.operatorHistory().at(-1)?.status, "success");
  });

  it("splits a region at the given keys", async () => {
    const { harness, regionId, coordinator } = setUp();
    const key = new TextEncoder().encode("m");
    await coordinator.addOperator({ kind: "split", regionId, policy: "use-key", keys: [key] });
    heartbeatAll(coordinator, harness.cluster);
    heartbeatAll(coordinator, harness.cluster);

    assert.equal(harness.cluster.regionIds().length, 2);
    assert.deepEqual(harness.cluster.region(regionId)?.meta.endKey, key);
    assert.equal(coordinator.operatorHistory().at(-1)?.status, "success");
  });

  it("rejects split keys outside the region or with the wrong policy", async () => {
    const harness = createScheduleHarness();
    const stores = addStores(harness.cluster, 3);
    const encode = (text: string) => new TextEncoder().encode(text);
    const regionId = harness.cluster.addRegion({
      storeIds: stores,
      startKey: encode("b"),
      endKey: encode("d"),
    });
    const coordinator = harness.coordinator();
    for (const keys of [[encode("a")], [encode("b")], [encode("d")], [encode("c"), encode("bb")]]) {
      await assert.rejects(coordinator.addOperator({ kind: "split", regionId, policy: "use-key", keys }), {
        code: "invalid-argument",
        message: /is not inside region/,
      });
    }
    await assert.rejects(coordinator.addOperator({ kind: "split", regionId, policy: "use-key" }), {
      message: /needs at least one key/,
    });
    await assert.rejects(
      coordinator.addOperator({ kind: "split", regionId, policy: "scan", keys: [encode("c")] }),
      {
        message: /only used with policy use-key/,
      },
    );
  });

  it("outranks a scheduler's operator on the same region, and conflicts with another manual one", async () => {
    const harness = createScheduleHarness();
    const stores = addStores(harness.cluster, 3);
    const regionIds = harness.cluster.addRegions(6, () => ({ storeIds: stores, leaderStoreId: stores[0] }));
    const coordinator = harness.coordinator();
    await coordinator.runOnce();
    const balancing = coordinator.operators().find((view) => view.description === "balance-leader");
    assert.ok(balancing !== undefined);
    const regionId = balancing.regionId;
    const target = stores.find(
      (storeId) =>
        storeId !== stores[0] &&
        !balancing.steps.some((step) => step.kind === "transfer-leader" && step.toStoreId === storeId),
    )!;

    const manual = await coordinator.addOperator({ kind: "transfer-leader", regionId, toStoreId: target });

    assert.equal(manual.priority, "highest");
    assert.equal(coordinator.operator(regionId)?.description, "admin-transfer-leader");
    const replaced = coordinator.operatorHistory().find((view) => view.regionId === regionId);
    assert.equal(replaced?.status, "replaced");
    await assert.rejects(coordinator.addOperator({ kind: "add-peer", regionId, storeId: target }), {
      code: "conflict",
      message: /already runs the manual operator/,
    });
    assert.ok(regionIds.includes(regionId));
  });

  it("cancels an operator on request", async () => {
    const { stores, regionId, coordinator } = setUp();
    await coordinator.addOperator({ kind: "transfer-leader", regionId, toStoreId: stores[1]! });
    assert.equal(coordinator.cancelOperator(regionId), true);
    assert.equal(coordinator.operator(regionId), undefined);
    assert.equal(coordinator.operatorHistory().at(-1)?.status, "cancelled");
    assert.equal(coordinator.cancelOperator(regionId), false);
  });
});

describe("Coordinator: operator lifecycle through heartbeats", () => {
  it("cancels an operator when the region's membership changes under it", async () => {
    const harness = createScheduleHarness();
    const stores = addStores(harness.cluster, 4);
    const regionId = harness.cluster.addRegion({ storeIds: stores.slice(0, 3) });
    const coordinator = harness.coordinator();
    await coordinator.addOperator({ kind: "transfer-leader", regionId, toStoreId: stores[1]! });

    harness.cluster.addVoterDirectly(regionId, stores[3]!);
    const reply = coordinator.onRegionHeartbeat(harness.cluster.heartbeat(regionId)!);

    assert.equal(reply, undefined);
    const finished = coordinator.operatorHistory().at(-1);
    assert.equal(finished?.status, "cancelled");
    assert.match(finished?.reason ?? "", /conf_ver moved from 1 to 2 but the operator made 0 conf changes/);
  });

  it("times out an operator whose step never completes", async () => {
    const harness = createScheduleHarness({ stepTimeoutMs: 30_000 });
    const stores = addStores(harness.cluster, 4);
    const regionId = harness.cluster.addRegion({ storeIds: stores.slice(0, 3) });
    const coordinator = harness.coordinator();
    await coordinator.addOperator({ kind: "add-peer", regionId, storeId: stores[3]! });
    coordinator.pauseScheduler(BALANCE_REGION_SCHEDULER, 3600);

    // The learner is added but never catches up (its snapshot never arrives).
    const result = await runSchedulingLoop({
      coordinator,
      cluster: harness.cluster,
      clock: harness.clock,
      maxRounds: 60,
      learnersCatchUp: false,
    });

    assert.equal(result.stable, true);
    const history = coordinator.operatorHistory();
    const timedOut = history.find((view) => view.description === "admin-add-peer");
    assert.equal(timedOut?.status, "timeout");
    assert.match(
      timedOut?.reason ?? "",
      /add learner peer .* made no progress for 3\d000 ms \(limit 30000 ms\)/,
    );
    // The learner the timed-out operator left behind is cleaned up by the replica checker.
    assert.equal(history.at(-1)?.description, "remove-extra-learner");
    assert.equal(harness.cluster.region(regionId)?.meta.peers.length, 3);
  });
});
