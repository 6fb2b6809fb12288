import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { metapb } from "#proto";
import { assertConvergesWithoutMovingBack } from "../../testing/balance-convergence.ts";
import { addStores, createScheduleHarness } from "../../testing/schedule-harness.ts";
import { stepSummary } from "../../testing/step-summary.ts";
import { BalanceRegionScheduler } from "./balance-region.ts";

const scheduler = new BalanceRegionScheduler();

describe("BalanceRegionScheduler", () => {
  it("moves a follower replica from the heaviest store to the lightest: add there, then remove here", async () => {
    const harness = createScheduleHarness();
    const stores = addStores(harness.cluster, 4);
    harness.cluster.addRegions(4, () => ({ storeIds: stores.slice(0, 3), leaderStoreId: stores[1] }));

    const operator = await scheduler.schedule(harness.context());

    assert.equal(operator?.description, "balance-region");
    assert.equal(operator?.kind, "region");
    assert.deepEqual(stepSummary(operator), [
      `add-learner@${stores[3]}`,
      `promote-learner@${stores[3]}`,
      `remove-peer@${stores[0]}`,
    ]);
  });

  it("moves leadership along when the source leads every candidate region", async () => {
    const harness = createScheduleHarness();
    const stores = addStores(harness.cluster, 4);
    harness.cluster.addRegions(4, () => ({ storeIds: stores.slice(0, 3), leaderStoreId: stores[0] }));

    const steps = stepSummary(await scheduler.schedule(harness.context()));

    assert.equal(steps.at(-2), `transfer-leader@${steps.at(-1)!.split("@")[1]}->${stores[3]}`);
  });

  it("does nothing within the tolerance", async () => {
    const harness = createScheduleHarness({ regionBalanceTolerance: 2 });
    const stores = addStores(harness.cluster, 4);
    harness.cluster.addRegion({ storeIds: stores.slice(0, 3) });
    harness.cluster.addRegion({ storeIds: [stores[0]!, stores[1]!, stores[3]!] });
    assert.equal(await scheduler.schedule(harness.context()), undefined, "2 against 1 regions is balanced");
  });

  it("leaves damaged regions to the replica checker and never targets a stopping store", async () => {
    const harness = createScheduleHarness();
    const stores = addStores(harness.cluster, 5);
    harness.cluster.addRegions(4, () => ({ storeIds: stores.slice(0, 3) }));
    harness.cluster.setStopping(stores[3]!, true);
    harness.cluster.setStoreHealth(stores[4]!, "down");
    assert.equal(await scheduler.schedule(harness.context()), undefined, "no store may receive");

    harness.cluster.setStoreHealth(stores[4]!, "up");
    harness.cluster.setStoreHealth(stores[2]!, "down");
    assert.equal(await scheduler.schedule(harness.context()), undefined, "every region has a down peer");
  });

  it("converges onto new stores without moving any replica back", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 3, max: 5 }),
        fc.integer({ min: 1, max: 2 }),
        fc.array(fc.integer({ min: 0, max: 9 }), { minLength: 1, maxLength: 30 }),
        async (storeCount, newStoreCount, placements) => {
          const harness = createScheduleHarness({ leaderScheduleLimit: 0 });
          const stores = addStores(harness.cluster, storeCount);
          for (const placement of placements) {
            const first = placement % storeCount;
            const storeIds = [0, 1, 2].map((offset) => stores[(first + offset) % storeCount]!);
            harness.cluster.addRegion({ storeIds });
          }
          addStores(harness.cluster, newStoreCount);
          await assertConvergesWithoutMovingBack(harness, {
            balancedCount: (store) => store.regionCount,
            tolerance: harness.config.regionBalanceTolerance,
            maxRounds: 300,
          });
          for (const region of harness.cluster.regions()) {
            const voters = region.meta.peers.filter((peer) => peer.role === metapb.PeerRole.VOTER);
            assert.equal(new Set(voters.map((peer) => peer.storeId)).size, 3);
          }
        },
      ),
      { numRuns: 60 },
    );
  });
});
