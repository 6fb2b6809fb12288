import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { addStores, createScheduleHarness, type ScheduleHarness } from "../testing/schedule-harness.ts";
import type { Operator, OperatorPriority } from "./operator.ts";
import { addPeerSteps, createOperator } from "./operator-builder.ts";
import { type OperatorStep, removePeer, transferLeader } from "./operator-step.ts";
import type { ScheduleConfig } from "./schedule-config.ts";

function setUp(overrides: Partial<ScheduleConfig> = {}) {
  const harness = createScheduleHarness(overrides);
  const stores = addStores(harness.cluster, 4);
  return { harness, stores };
}

function operatorFor(
  harness: ScheduleHarness,
  regionId: bigint,
  steps: readonly OperatorStep[],
  priority: OperatorPriority = "normal",
): Operator {
  return createOperator(harness.context(), {
    description: `test-${priority}`,
    kind: priority === "highest" ? "admin" : "region",
    priority,
    region: harness.cluster.region(regionId)!,
    steps,
  });
}

/** Delivers the controller's reply for the region to the simulated leader; returns whether one was sent. */
function heartbeat(harness: ScheduleHarness, regionId: bigint): boolean {
  const reply = harness.controller.dispatch(harness.cluster.heartbeat(regionId)!);
  if (reply !== undefined) harness.cluster.apply(reply);
  return reply !== undefined;
}

describe("OperatorController", () => {
  it("delivers each step in turn and records success", () => {
    const { harness, stores } = setUp();
    const regionId = harness.cluster.addRegion({ storeIds: stores.slice(0, 3) });
    const peerOnThird = harness.cluster.region(regionId)!.meta.peers[2]!;
    const operator = operatorFor(harness, regionId, [
      ...addPeerSteps(stores[3]!, 5000n),
      removePeer(stores[2]!, peerOnThird.id),
    ]);
    assert.deepEqual(harness.controller.add(operator), { added: true });

    assert.equal(heartbeat(harness, regionId), true, "add learner");
    harness.cluster.catchUpLearners();
    assert.equal(heartbeat(harness, regionId), true, "promote");
    assert.equal(heartbeat(harness, regionId), true, "remove");
    assert.equal(heartbeat(harness, regionId), false, "done");

    assert.equal(harness.controller.operator(regionId), undefined);
    assert.equal(harness.controller.history().at(-1)?.status, "success");
    const storeIds = harness.cluster.region(regionId)!.meta.peers.map((peer) => peer.storeId);
    assert.deepEqual(storeIds, [stores[0], stores[1], stores[3]]);
  });

  it("cancels a removal when leadership came back to the peer being removed", () => {
    const { harness, stores } = setUp();
    const regionId = harness.cluster.addRegion({ storeIds: stores.slice(0, 3), leaderStoreId: stores[0] });
    const leaderPeer = harness.cluster.region(regionId)!.leader!;
    const operator = operatorFor(harness, regionId, [
      transferLeader(stores[0]!, stores[1]!),
      removePeer(stores[0]!, leaderPeer.id),
    ]);
    harness.controller.add(operator);
    assert.equal(heartbeat(harness, regionId), true, "transfer");
    const removal = harness.controller.dispatch(harness.cluster.heartbeat(regionId)!);
    assert.equal(
      removal?.changePeer?.peer?.id,
      leaderPeer.id,
      "the removal is requested, not yet carried out",
    );
    harness.cluster.electLeader(regionId, stores[0]!);

    assert.equal(heartbeat(harness, regionId), false);
    assert.equal(operator.status, "cancelled");
    assert.match(operator.view().reason ?? "", /is the leader of region/);
    assert.equal(harness.cluster.region(regionId)?.meta.peers.length, 3);
  });

  it("keeps one operator per region; only a higher priority replaces it", () => {
    const { harness, stores } = setUp();
    const regionId = harness.cluster.addRegion({ storeIds: stores.slice(0, 3) });
    const first = operatorFor(harness, regionId, [transferLeader(stores[0]!, stores[1]!)]);
    assert.equal(harness.controller.add(first).added, true);

    const rival = harness.controller.add(
      operatorFor(harness, regionId, [transferLeader(stores[0]!, stores[2]!)]),
    );
    assert.equal(rival.added, false);
    assert.equal(!rival.added && rival.rejection, "region-busy");

    const urgent = operatorFor(harness, regionId, [transferLeader(stores[0]!, stores[2]!)], "highest");
    assert.equal(harness.controller.add(urgent).added, true);
    assert.equal(harness.controller.operator(regionId), urgent);
    assert.equal(first.status, "replaced");
    assert.match(first.view().reason ?? "", /replaced by "test-highest"/);
  });

  it("refuses operators for unknown regions or planned against an older epoch", () => {
    const { harness, stores } = setUp();
    const regionId = harness.cluster.addRegion({ storeIds: stores.slice(0, 3) });
    const planned = operatorFor(harness, regionId, [transferLeader(stores[0]!, stores[1]!)]);
    harness.cluster.addVoterDirectly(regionId, stores[3]!);
    const stale = harness.controller.add(planned);
    assert.equal(!stale.added && stale.rejection, "epoch-changed");

    const orphan = operatorFor(harness, regionId, [transferLeader(stores[0]!, stores[1]!)]);
    harness.cluster.removeRegion(regionId);
    const missing = harness.controller.add(orphan);
    assert.equal(!missing.added && missing.rejection, "region-not-found");
  });

  it("limits operators changing peers on one store, and leader moves separately", () => {
    const { harness, stores } = setUp({
      storeLimitOperatorsPerStore: 1,
      storeLimitLeaderOperatorsPerStore: 1,
    });
    const regionIds = [1, 2, 3].map(() => harness.cluster.addRegion({ storeIds: stores.slice(0, 3) }));
    const addToFourth = (regionId: bigint, peerId: bigint) =>
      operatorFor(harness, regionId, addPeerSteps(stores[3]!, peerId));

    assert.equal(harness.controller.add(addToFourth(regionIds[0]!, 5000n)).added, true);
    const second = harness.controller.add(addToFourth(regionIds[1]!, 5001n));
    assert.equal(second.added, false);
    assert.match(
      !second.added ? second.reason : "",
      /store \d+ already has 1 operators changing its peers \(limit 1\)/,
    );

    // Leader moves are counted on their own, so a transfer onto the same store still fits.
    assert.equal(harness.controller.hasLeaderCapacity(stores[3]!), true);
    assert.equal(
      harness.controller.add(operatorFor(harness, regionIds[1]!, [transferLeader(stores[0]!, stores[1]!)]))
        .added,
      true,
    );
    const thirdLeaderMove = harness.controller.add(
      operatorFor(harness, regionIds[2]!, [transferLeader(stores[0]!, stores[2]!)]),
    );
    assert.equal(!thirdLeaderMove.added && thirdLeaderMove.rejection, "store-limit");

    // Once the peer is added (only the promotion is left), the store has room again.
    heartbeat(harness, regionIds[0]!);
    harness.cluster.catchUpLearners();
    heartbeat(harness, regionIds[0]!);
    assert.equal(harness.controller.hasPeerCapacity(stores[3]!), true);
  });

  it("times out a step that makes no progress, with or without heartbeats", () => {
    const { harness, stores } = setUp({ leaderStepTimeoutMs: 5_000 });
    const [quiet, chatty] = [1, 2].map(() => harness.cluster.addRegion({ storeIds: stores.slice(0, 3) }));
    for (const regionId of [quiet!, chatty!]) {
      harness.controller.add(operatorFor(harness, regionId, [transferLeader(stores[0]!, stores[1]!)]));
    }
    // The leader never carries the transfer out: replies are not delivered.
    harness.clock.advance(5_000);
    assert.notEqual(harness.controller.dispatch(harness.cluster.heartbeat(chatty!)!), undefined);
    harness.clock.advance(1);
    assert.equal(harness.controller.dispatch(harness.cluster.heartbeat(chatty!)!), undefined);
    assert.equal(harness.controller.operator(quiet!)?.status, "running", "no heartbeat yet");

    harness.controller.refresh();
    assert.equal(harness.controller.operator(quiet!), undefined);
    const statuses = harness.controller.history().map((operator) => operator.status);
    assert.deepEqual(statuses, ["timeout", "timeout"]);
  });

  it("ignores a heartbeat older than the operator's plan", () => {
    const { harness, stores } = setUp();
    const regionId = harness.cluster.addRegion({ storeIds: stores.slice(0, 3) });
    const before = harness.cluster.heartbeat(regionId)!;
    harness.cluster.addVoterDirectly(regionId, stores[3]!);
    const operator = operatorFor(harness, regionId, [transferLeader(stores[0]!, stores[1]!)]);
    harness.controller.add(operator);

    assert.equal(harness.controller.dispatch(before), undefined);
    assert.equal(operator.status, "running");
  });

  it("cancels operators whose region disappeared, and on request", () => {
    const { harness, stores } = setUp();
    const [merged, other] = [1, 2].map(() => harness.cluster.addRegion({ storeIds: stores.slice(0, 3) }));
    for (const regionId of [merged!, other!]) {
      harness.controller.add(operatorFor(harness, regionId, [transferLeader(stores[0]!, stores[1]!)]));
    }
    harness.cluster.removeRegion(merged!);
    harness.controller.refresh();
    assert.match(harness.controller.history()[0]?.view().reason ?? "", /disappeared/);

    assert.equal(harness.controller.cancel(other!, "operator asked"), true);
    assert.equal(harness.controller.cancel(other!, "again"), false);
    assert.equal(harness.controller.history()[1]?.view().reason, "operator asked");
  });

  it("keeps a bounded history, dropping the oldest", () => {
    const { harness, stores } = setUp({ operatorHistoryLimit: 2 });
    const regionIds = [1, 2, 3].map(() => harness.cluster.addRegion({ storeIds: stores.slice(0, 3) }));
    for (const regionId of regionIds) {
      harness.controller.add(operatorFor(harness, regionId, [transferLeader(stores[0]!, stores[1]!)]));
      harness.controller.cancel(regionId, `cancel ${regionId}`);
    }
    assert.deepEqual(
      harness.controller.history().map((operator) => operator.regionId),
      regionIds.slice(1),
    );
  });

  it("counts running operators by kind", () => {
    const { harness, stores } = setUp();
    const regionIds = [1, 2].map(() => harness.cluster.addRegion({ storeIds: stores.slice(0, 3) }));
    harness.controller.add(operatorFor(harness, regionIds[0]!, [transferLeader(stores[0]!, stores[1]!)]));
    harness.controller.add(
      operatorFor(harness, regionIds[1]!, [transferLeader(stores[0]!, stores[1]!)], "highest"),
    );
    assert.equal(harness.controller.countByKind("region"), 1);
    assert.equal(harness.controller.countByKind("admin"), 1);
    assert.equal(harness.controller.countByKind("leader"), 0);
  });
});
