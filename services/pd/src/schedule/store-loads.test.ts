import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { addStores, createScheduleHarness } from "../testing/schedule-harness.ts";
import { addPeerSteps, createOperator } from "./operator-builder.ts";
import { removePeer, stepToResponse, transferLeader } from "./operator-step.ts";
import { StoreLoads } from "./store-loads.ts";

describe("StoreLoads", () => {
  it("counts regions, leaders and weights per store, with a minimum weight per region", () => {
    const harness = createScheduleHarness({ regionWeightMinBytes: 100 });
    const stores = addStores(harness.cluster, 3);
    harness.cluster.addRegion({ storeIds: stores.slice(0, 2), sizeBytes: 1000 });
    harness.cluster.addRegion({ storeIds: stores.slice(1, 3), sizeBytes: 0 });
    const loads = harness.context().loads;

    assert.deepEqual(loads.get(stores[0]!), { regionCount: 1, leaderCount: 1, regionWeight: 1000 });
    assert.deepEqual(loads.get(stores[1]!), { regionCount: 2, leaderCount: 1, regionWeight: 1100 });
    assert.deepEqual(loads.get(stores[2]!), { regionCount: 1, leaderCount: 0, regionWeight: 100 });
    assert.equal(loads.averageRegionWeight(), 2200 / 4);
    assert.deepEqual(loads.get(999n), { regionCount: 0, leaderCount: 0, regionWeight: 0 });
  });

  it("adds what running operators are about to change", () => {
    const harness = createScheduleHarness();
    const stores = addStores(harness.cluster, 4);
    const regionId = harness.cluster.addRegion({ storeIds: stores.slice(0, 3) });
    const region = harness.cluster.region(regionId)!;
    const operator = createOperator(harness.context(), {
      description: "move",
      kind: "region",
      priority: "normal",
      region,
      steps: [
        ...addPeerSteps(stores[3]!, 5000n),
        transferLeader(stores[0]!, stores[3]!),
        removePeer(stores[0]!, region.meta.peers[0]!.id),
      ],
    });
    harness.controller.add(operator);
    const loads = harness.context().loads;

    assert.equal(loads.get(stores[0]!).regionCount, 0);
    assert.equal(loads.get(stores[0]!).leaderCount, 0);
    assert.equal(loads.get(stores[3]!).regionCount, 1);
    assert.equal(loads.get(stores[3]!).leaderCount, 1);
  });

  it("does not count twice a change the region already shows but the operator has not seen finish", () => {
    const harness = createScheduleHarness();
    const stores = addStores(harness.cluster, 3);
    const regionId = harness.cluster.addRegion({ storeIds: stores, leaderStoreId: stores[0] });
    const operator = createOperator(harness.context(), {
      description: "balance-leader",
      kind: "leader",
      priority: "normal",
      region: harness.cluster.region(regionId)!,
      steps: [transferLeader(stores[0]!, stores[1]!)],
    });
    harness.controller.add(operator);
    // The store carried the transfer out; pd has not processed the next heartbeat yet.
    harness.cluster.apply(stepToResponse(operator.steps[0]!, harness.cluster.heartbeat(regionId)!));

    const loads = StoreLoads.measure({
      cluster: harness.cluster,
      controller: harness.controller,
      regionWeightMinBytes: 1,
    });
    assert.equal(loads.get(stores[0]!).leaderCount, 0);
    assert.equal(loads.get(stores[1]!).leaderCount, 1);
  });
});
