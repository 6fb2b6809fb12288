/**
 * How soon operator steps reach a region's leader: no step may wait for a periodic heartbeat or the next
 * scheduling pass. The simulated leader carries out each step the moment it gets it and reports the
 * region after every change, as the store does.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { eraftpb, metapb, type pdpb } from "#proto";
import { addStores, createScheduleHarness } from "../testing/schedule-harness.ts";
import { Coordinator } from "./coordinator.ts";

interface SentStep {
  readonly storeId: bigint;
  readonly step: pdpb.RegionHeartbeatResponse;
}

function setUp() {
  const harness = createScheduleHarness();
  const stores = addStores(harness.cluster, 3);
  const regionId = harness.cluster.addRegion({ storeIds: [stores[0]!] });
  const sent: SentStep[] = [];
  let checksRequested = 0;
  const coordinator = new Coordinator({
    cluster: harness.cluster,
    allocId: harness.cluster.allocId,
    clock: harness.clock,
    config: harness.config,
    sendStep: (storeId, step) => sent.push({ storeId, step }),
    onRegionsToCheck: () => checksRequested++,
  });
  const report = () => coordinator.onRegionHeartbeat(harness.cluster.heartbeat(regionId)!);
  return { harness, stores, regionId, sent, coordinator, report, checksRequested: () => checksRequested };
}

function voters(region: { readonly meta: metapb.Region } | undefined): number {
  return region?.meta.peers.filter((peer) => peer.role === metapb.PeerRole.VOTER).length ?? 0;
}

describe("Coordinator: steps reach the leader without waiting", () => {
  it("sends a checker's new operator to the region's leader at once", async () => {
    const { stores, sent, coordinator } = setUp();
    await coordinator.runOnce();
    assert.equal(sent.length, 1);
    assert.equal(sent[0]!.storeId, stores[0]);
    assert.equal(sent[0]!.step.changePeer?.changeType, eraftpb.ConfChangeType.ADD_LEARNER_NODE);
  });

  it("sends a manual operator to the region's leader at once", async () => {
    const { harness, stores, regionId, sent, coordinator } = setUp();
    harness.cluster.addVoterDirectly(regionId, stores[1]!);
    await coordinator.addOperator({ kind: "transfer-leader", regionId, toStoreId: stores[1]! });
    assert.equal(sent.length, 1);
    assert.equal(sent[0]!.step.transferLeader?.peer?.storeId, stores[1]);
  });

  it("does not ask again for a learner that is catching up, and asks for its promotion once it has", async () => {
    const { harness, sent, coordinator, report } = setUp();
    await coordinator.runOnce();
    assert.deepEqual(harness.cluster.apply(sent[0]!.step), { applied: true });
    assert.equal(report(), undefined, "the learner exists but is pending: nothing to repeat");
    harness.cluster.catchUpLearners();
    const promote = report();
    assert.equal(promote?.changePeer?.changeType, eraftpb.ConfChangeType.ADD_NODE);
  });

  it("checks a region again as soon as its operator ends, so the next replica needs no pass", async () => {
    const { harness, regionId, sent, coordinator, report, checksRequested } = setUp();
    await coordinator.runOnce();
    harness.cluster.apply(sent[0]!.step);
    report();
    harness.cluster.catchUpLearners();
    harness.cluster.apply(report()!);
    assert.equal(checksRequested(), 0);
    assert.equal(report(), undefined, "the operator is done");
    assert.equal(checksRequested(), 1);
    assert.equal(voters(harness.cluster.region(regionId)), 2);

    await coordinator.checkRegions();
    assert.equal(sent.length, 2, "the second replica's operator went out without a scheduling pass");
    harness.cluster.apply(sent[1]!.step);
    report();
    harness.cluster.catchUpLearners();
    harness.cluster.apply(report()!);
    report();
    assert.equal(voters(harness.cluster.region(regionId)), 3);
    await coordinator.checkRegions();
    assert.equal(sent.length, 2, "a region with all its replicas needs nothing more");
  });
});
