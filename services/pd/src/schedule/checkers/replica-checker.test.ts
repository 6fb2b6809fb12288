import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { addStores, createScheduleHarness, type ScheduleHarness } from "../../testing/schedule-harness.ts";
import { heartbeatAll } from "../../testing/schedule-loop.ts";
import { stepSummary } from "../../testing/step-summary.ts";
import type { Operator } from "../operator.ts";
import { createOperator } from "../operator-builder.ts";
import { transferLeader } from "../operator-step.ts";
import { ReplicaChecker } from "./replica-checker.ts";

const checker = new ReplicaChecker();

async function check(harness: ScheduleHarness, regionId: bigint): Promise<Operator | undefined> {
  return checker.check(harness.cluster.region(regionId)!, harness.context());
}

describe("ReplicaChecker", () => {
  it("leaves a region with exactly maxReplicas healthy voters alone", async () => {
    const harness = createScheduleHarness();
    const stores = addStores(harness.cluster, 4);
    const regionId = harness.cluster.addRegion({ storeIds: stores.slice(0, 3) });
    assert.equal(await check(harness, regionId), undefined);
  });

  it("adds a missing voter as a learner first, on the store with the fewest regions", async () => {
    const harness = createScheduleHarness();
    const stores = addStores(harness.cluster, 4);
    harness.cluster.addRegion({ storeIds: [stores[0]!, stores[1]!, stores[2]!] });
    harness.cluster.addRegion({ storeIds: [stores[0]!, stores[1]!, stores[3]!] });
    const regionId = harness.cluster.addRegion({ storeIds: [stores[0]!] });

    const operator = await check(harness, regionId);

    assert.equal(operator?.description, "add-missing-peer");
    assert.equal(operator?.kind, "replica");
    assert.equal(operator?.priority, "high");
    // Stores 3 and 4 each hold one region; the lower id wins the tie.
    assert.deepEqual(stepSummary(operator), [`add-learner@${stores[2]}`, `promote-learner@${stores[2]}`]);
  });

  it("prefers the store with more free space among equally loaded ones", async () => {
    const harness = createScheduleHarness();
    const stores = [
      harness.cluster.addStore(),
      harness.cluster.addStore({ availableBytes: 10 }),
      harness.cluster.addStore({ availableBytes: 1e9 }),
    ];
    const regionId = harness.cluster.addRegion({ storeIds: [stores[0]!] });
    assert.deepEqual(stepSummary(await check(harness, regionId)).slice(0, 1), [`add-learner@${stores[2]}`]);
  });

  it("replaces a peer on a down store: add the new voter, then remove the down one", async () => {
    const harness = createScheduleHarness();
    const stores = addStores(harness.cluster, 4);
    const regionId = harness.cluster.addRegion({ storeIds: stores.slice(0, 3) });
    harness.cluster.setStoreHealth(stores[2]!, "down");

    const operator = await check(harness, regionId);

    assert.equal(operator?.description, "replace-down-peer");
    assert.deepEqual(stepSummary(operator), [
      `add-learner@${stores[3]}`,
      `promote-learner@${stores[3]}`,
      `remove-peer@${stores[2]}`,
    ]);
  });

  it("removes a down peer at once when enough healthy voters remain", async () => {
    const harness = createScheduleHarness();
    const stores = addStores(harness.cluster, 4);
    const regionId = harness.cluster.addRegion({ storeIds: stores });
    harness.cluster.setStoreHealth(stores[3]!, "down");

    const operator = await check(harness, regionId);

    assert.equal(operator?.description, "remove-unhealthy-peer");
    assert.deepEqual(stepSummary(operator), [`remove-peer@${stores[3]}`]);
  });

  it("keeps a disconnected store's peer: it still counts until the store is down", async () => {
    const harness = createScheduleHarness();
    const stores = addStores(harness.cluster, 4);
    const regionId = harness.cluster.addRegion({ storeIds: stores.slice(0, 3) });
    harness.cluster.setStoreHealth(stores[2]!, "disconnected");
    assert.equal(await check(harness, regionId), undefined);
  });

  it("removes an extra voter from the most loaded store, moving leadership away first", async () => {
    const harness = createScheduleHarness();
    const stores = addStores(harness.cluster, 4);
    harness.cluster.addRegion({ storeIds: [stores[0]!] });
    const regionId = harness.cluster.addRegion({ storeIds: stores, leaderStoreId: stores[0] });

    const operator = await check(harness, regionId);

    assert.equal(operator?.description, "remove-extra-peer");
    const steps = stepSummary(operator);
    assert.match(steps[0]!, new RegExp(`^transfer-leader@${stores[0]}->`));
    assert.equal(steps[1], `remove-peer@${stores[0]}`);
  });

  it("promotes a caught-up orphan learner when voters are missing, waits while it catches up", async () => {
    const harness = createScheduleHarness();
    const stores = addStores(harness.cluster, 3);
    const regionId = harness.cluster.addRegion({ storeIds: stores.slice(0, 2) });
    const coordinator = harness.coordinator();
    await coordinator.addOperator({ kind: "add-peer", regionId, storeId: stores[2]! });
    heartbeatAll(coordinator, harness.cluster);
    coordinator.cancelOperator(regionId);

    assert.equal(await check(harness, regionId), undefined, "the learner is still receiving its snapshot");
    harness.cluster.catchUpLearners();
    const operator = await check(harness, regionId);
    assert.equal(operator?.description, "promote-orphan-learner");
    assert.deepEqual(stepSummary(operator), [`promote-learner@${stores[2]}`]);
  });

  it("removes an orphan learner when the region has enough voters", async () => {
    const harness = createScheduleHarness();
    const stores = addStores(harness.cluster, 4);
    const regionId = harness.cluster.addRegion({ storeIds: stores.slice(0, 3) });
    const coordinator = harness.coordinator();
    await coordinator.addOperator({ kind: "add-peer", regionId, storeId: stores[3]! });
    heartbeatAll(coordinator, harness.cluster);
    coordinator.cancelOperator(regionId);

    const operator = await check(harness, regionId);
    assert.equal(operator?.description, "remove-extra-learner");
    assert.deepEqual(stepSummary(operator), [`remove-peer@${stores[3]}`]);
  });

  it("does nothing without a store to add to, or without a leader to deliver to", async () => {
    const harness = createScheduleHarness();
    const stores = addStores(harness.cluster, 3);
    const regionId = harness.cluster.addRegion({ storeIds: stores });
    harness.cluster.setStoreHealth(stores[2]!, "down");
    assert.equal(await check(harness, regionId), undefined);

    harness.cluster.setStoreHealth(stores[1]!, "down");
    assert.equal(harness.cluster.region(regionId)?.leader, undefined, "lost its quorum");
    assert.equal(await check(harness, regionId), undefined);
  });

  it("leaves a store at its peer limit alone instead of burning ids on it", async () => {
    const harness = createScheduleHarness({ storeLimitOperatorsPerStore: 1 });
    const stores = addStores(harness.cluster, 4);
    const regionIds = [1, 2].map(() => harness.cluster.addRegion({ storeIds: stores.slice(0, 3) }));
    harness.cluster.setStoreHealth(stores[2]!, "down");
    const first = await check(harness, regionIds[0]!);
    assert.equal(harness.controller.add(first!).added, true);

    const before = await harness.cluster.allocId();
    assert.equal(await check(harness, regionIds[1]!), undefined);
    assert.equal(await harness.cluster.allocId(), before + 1n, "no id was allocated for the refused repair");
  });

  it("preempts a balancing operator on a region that lost a replica, but not a repair", async () => {
    const harness = createScheduleHarness();
    const stores = addStores(harness.cluster, 4);
    const regionId = harness.cluster.addRegion({ storeIds: stores.slice(0, 3) });
    const balancing = createOperator(harness.context(), {
      description: "balance-leader",
      kind: "leader",
      priority: "normal",
      region: harness.cluster.region(regionId)!,
      steps: [transferLeader(stores[0]!, stores[1]!)],
    });
    harness.controller.add(balancing);
    assert.equal(await check(harness, regionId), undefined, "healthy region: the balancer may finish");

    harness.cluster.setStoreHealth(stores[2]!, "down");
    const repair = await check(harness, regionId);
    assert.equal(repair?.description, "replace-down-peer");
    assert.equal(harness.controller.add(repair!).added, true);
    assert.equal(await check(harness, regionId), undefined, "a running repair is not replaced");
  });
});
