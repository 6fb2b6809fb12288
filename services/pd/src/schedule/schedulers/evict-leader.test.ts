import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { addStores, createScheduleHarness } from "../../testing/schedule-harness.ts";
import { stepSummary } from "../../testing/step-summary.ts";
import { createOperator } from "../operator-builder.ts";
import { transferLeader } from "../operator-step.ts";
import { EvictLeaderScheduler } from "./evict-leader.ts";

describe("EvictLeaderScheduler", () => {
  it("evicts stopping stores automatically and requested stores until withdrawn", () => {
    const harness = createScheduleHarness();
    const stores = addStores(harness.cluster, 3);
    const scheduler = new EvictLeaderScheduler();
    harness.cluster.setStopping(stores[0]!, true);
    scheduler.evict(stores[2]!);

    assert.deepEqual([...scheduler.evictingStoreIds(harness.cluster)].sort(), [stores[0], stores[2]]);
    assert.deepEqual(scheduler.requestedStoreIds(), [stores[2]]);
    assert.equal(scheduler.stopEvicting(stores[2]!), true);
    assert.equal(scheduler.stopEvicting(stores[2]!), false);
    assert.deepEqual([...scheduler.evictingStoreIds(harness.cluster)], [stores[0]]);
  });

  it("moves each leader to the voter store with the fewest leaders, never to another evicting store", async () => {
    const harness = createScheduleHarness();
    const stores = addStores(harness.cluster, 4);
    harness.cluster.addRegion({ storeIds: stores.slice(1, 4), leaderStoreId: stores[2] });
    const regionId = harness.cluster.addRegion({ storeIds: stores.slice(0, 4), leaderStoreId: stores[0] });
    const scheduler = new EvictLeaderScheduler();

    const operator = await scheduler.schedule(harness.context(new Set([stores[0]!, stores[1]!])));

    assert.equal(operator?.regionId, regionId);
    assert.equal(operator?.priority, "high");
    assert.deepEqual(stepSummary(operator), [`transfer-leader@${stores[0]}->${stores[3]}`]);
  });

  it("skips regions with no other voter able to lead", async () => {
    const harness = createScheduleHarness();
    const stores = addStores(harness.cluster, 2);
    harness.cluster.addRegion({ storeIds: [stores[0]!], leaderStoreId: stores[0] });
    const scheduler = new EvictLeaderScheduler();
    assert.equal(await scheduler.schedule(harness.context(new Set([stores[0]!]))), undefined);
  });

  it("takes over a region from a balancing operator but not from a repair", async () => {
    const harness = createScheduleHarness();
    const stores = addStores(harness.cluster, 3);
    const regionId = harness.cluster.addRegion({ storeIds: stores, leaderStoreId: stores[0] });
    const scheduler = new EvictLeaderScheduler();
    const existing = (priority: "normal" | "high") =>
      createOperator(harness.context(), {
        description: `existing-${priority}`,
        kind: "leader",
        priority,
        region: harness.cluster.region(regionId)!,
        steps: [transferLeader(stores[0]!, stores[1]!)],
      });

    harness.controller.add(existing("normal"));
    assert.notEqual(await scheduler.schedule(harness.context(new Set([stores[0]!]))), undefined);

    harness.controller.cancel(regionId, "test");
    harness.controller.add(existing("high"));
    assert.equal(await scheduler.schedule(harness.context(new Set([stores[0]!]))), undefined);
  });
});
