import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { metapb } from "#proto";
import { addStores, createScheduleHarness } from "../testing/schedule-harness.ts";
import { runSchedulingLoop } from "../testing/schedule-loop.ts";

type StoreCondition = "up" | "stopping" | "disconnected" | "down" | "offline";

interface Scenario {
  readonly storeConditions: readonly StoreCondition[];
  readonly regions: ReadonlyArray<{
    readonly storeMask: number;
    readonly leaderPick: number;
    readonly sizeMiB: number;
  }>;
}

const conditions: fc.Arbitrary<StoreCondition> = fc.oneof(
  { weight: 6, arbitrary: fc.constant<StoreCondition>("up") },
  { weight: 1, arbitrary: fc.constantFrom<StoreCondition>("stopping", "disconnected", "down", "offline") },
);

const scenarios: fc.Arbitrary<Scenario> = fc.record({
  storeConditions: fc.array(conditions, { minLength: 3, maxLength: 6 }),
  regions: fc.array(
    fc.record({
      storeMask: fc.integer({ min: 1, max: 63 }),
      leaderPick: fc.nat({ max: 5 }),
      sizeMiB: fc.integer({ min: 0, max: 100 }),
    }),
    { minLength: 1, maxLength: 8 },
  ),
});

function buildCluster(scenario: Scenario) {
  const harness = createScheduleHarness();
  const { cluster } = harness;
  const stores = addStores(cluster, scenario.storeConditions.length);
  for (const region of scenario.regions) {
    const storeIds = stores.filter((_, index) => (region.storeMask >> index) & 1);
    const placed = storeIds.length > 0 ? storeIds : [stores[0]!];
    cluster.addRegion({
      storeIds: placed,
      leaderStoreId: placed[region.leaderPick % placed.length],
      sizeBytes: region.sizeMiB * 1024 * 1024,
    });
  }
  const conditionOf = new Map(stores.map((storeId, index) => [storeId, scenario.storeConditions[index]!]));
  for (const [storeId, condition] of conditionOf) {
    if (condition === "stopping") cluster.setStopping(storeId, true);
    else if (condition !== "up") cluster.setStoreHealth(storeId, condition);
  }
  return { harness, conditionOf };
}

/**
 * Random placements and store conditions. Every change the coordinator orders is carried out by the
 * simulated cluster, which throws if it would remove a leader or the last voter, or leave the voters
 * without a serving majority; so these runs check that scheduling never does, whatever the starting point.
 */
describe("Coordinator on random clusters", () => {
  it("never endangers a region, and repairs every region that still has a leader", async () => {
    await fc.assert(
      fc.asyncProperty(scenarios, async (scenario) => {
        const { harness, conditionOf } = buildCluster(scenario);
        const { cluster, config } = harness;
        const condition = (storeId: bigint): StoreCondition => conditionOf.get(storeId)!;
        const keepsReplicas = (storeId: bigint) =>
          ["up", "stopping", "disconnected"].includes(condition(storeId));
        const acceptingCount = [...conditionOf.values()].filter((value) => value === "up").length;

        const result = await runSchedulingLoop({
          coordinator: harness.coordinator(),
          cluster,
          clock: harness.clock,
          maxRounds: 300,
        });

        assert.equal(result.stable, true, `not stable after ${result.rounds} rounds`);
        for (const regionId of cluster.regionIds()) {
          const region = cluster.heartbeat(regionId);
          if (region === undefined) continue; // lost its quorum before scheduling started; nothing can help
          const voters = region.meta.peers.filter((peer) => peer.role === metapb.PeerRole.VOTER);
          const healthy = voters.filter((peer) => keepsReplicas(peer.storeId));
          assert.equal(voters.length, region.meta.peers.length, `region ${regionId}: no learner left`);
          assert.ok(
            healthy.length >= Math.min(config.maxReplicas, acceptingCount),
            `region ${regionId} healthy`,
          );
          assert.ok(healthy.length <= Math.max(config.maxReplicas, 1), `region ${regionId} extra voters`);
          if (healthy.length >= config.maxReplicas) {
            assert.equal(voters.length, healthy.length, `region ${regionId} keeps unhealthy voters`);
          }
          const leaderStore = region.leader!.storeId;
          if (condition(leaderStore) === "stopping") {
            const alternative = voters.some((peer) => condition(peer.storeId) === "up");
            assert.ok(!alternative, `region ${regionId} is still led from a stopping store`);
          }
        }
      }),
      { numRuns: 300 },
    );
  });
});
