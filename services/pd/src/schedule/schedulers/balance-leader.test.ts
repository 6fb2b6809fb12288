import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { assertConvergesWithoutMovingBack } from "../../testing/balance-convergence.ts";
import { addStores, createScheduleHarness } from "../../testing/schedule-harness.ts";
import { stepSummary } from "../../testing/step-summary.ts";
import { createOperator } from "../operator-builder.ts";
import { transferLeader } from "../operator-step.ts";
import { BalanceLeaderScheduler } from "./balance-leader.ts";

const scheduler = new BalanceLeaderScheduler();

describe("BalanceLeaderScheduler", () => {
  it("moves a leader from the busiest store to the emptiest voter store", async () => {
    const harness = createScheduleHarness();
    const stores = addStores(harness.cluster, 3);
    harness.cluster.addRegions(4, () => ({ storeIds: stores, leaderStoreId: stores[0] }));
    harness.cluster.addRegion({ storeIds: stores, leaderStoreId: stores[1] });

    const operator = await scheduler.schedule(harness.context());

    assert.equal(operator?.description, "balance-leader");
    assert.equal(operator?.kind, "leader");
    assert.deepEqual(stepSummary(operator), [`transfer-leader@${stores[0]}->${stores[2]}`]);
  });

  it("does nothing while counts differ by no more than the tolerance", async () => {
    const harness = createScheduleHarness({ leaderBalanceTolerance: 2 });
    const stores = addStores(harness.cluster, 3);
    harness.cluster.addRegions(2, () => ({ storeIds: stores, leaderStoreId: stores[0] }));
    assert.equal(await scheduler.schedule(harness.context()), undefined);

    harness.cluster.addRegion({ storeIds: stores, leaderStoreId: stores[0] });
    assert.notEqual(await scheduler.schedule(harness.context()), undefined, "3 against 0 exceeds it");
  });

  it("never hands leadership to an evicting store or a lagging peer", async () => {
    const harness = createScheduleHarness();
    const stores = addStores(harness.cluster, 3);
    harness.cluster.addRegions(6, () => ({ storeIds: stores, leaderStoreId: stores[0] }));
    const operator = await scheduler.schedule(harness.context(new Set([stores[2]!])));
    assert.deepEqual(stepSummary(operator), [`transfer-leader@${stores[0]}->${stores[1]}`]);

    harness.cluster.setStoreHealth(stores[1]!, "down");
    assert.equal(await scheduler.schedule(harness.context(new Set([stores[2]!]))), undefined);
  });

  it("skips regions that already have an operator and respects leaderScheduleLimit", async () => {
    const harness = createScheduleHarness({ leaderScheduleLimit: 1 });
    const stores = addStores(harness.cluster, 3);
    const [busy] = harness.cluster.addRegions(4, () => ({ storeIds: stores, leaderStoreId: stores[0] }));
    const running = createOperator(harness.context(), {
      description: "balance-leader",
      kind: "leader",
      priority: "normal",
      region: harness.cluster.region(busy!)!,
      steps: [transferLeader(stores[0]!, stores[1]!)],
    });
    harness.controller.add(running);

    const context = harness.context();
    assert.equal(scheduler.isAllowed(context), false);
    const next = await scheduler.schedule(context);
    assert.ok(next !== undefined, "another region still qualifies");
    assert.notEqual(next.regionId, busy);
  });

  it("converges without moving any leader back and forth", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 2, max: 5 }),
        fc.array(fc.nat({ max: 4 }), { minLength: 1, maxLength: 40 }),
        async (storeCount, leaderPicks) => {
          const harness = createScheduleHarness({ maxReplicas: storeCount });
          const stores = addStores(harness.cluster, storeCount);
          for (const pick of leaderPicks) {
            harness.cluster.addRegion({ storeIds: stores, leaderStoreId: stores[pick % storeCount] });
          }
          await assertConvergesWithoutMovingBack(harness, {
            balancedCount: (store) => store.leaderCount,
            tolerance: harness.config.leaderBalanceTolerance,
            maxRounds: 200,
          });
        },
      ),
      { numRuns: 100 },
    );
  });
});
