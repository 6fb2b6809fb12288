import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { pdpb } from "#proto";
import { type RegionFixture, regionInfo } from "../testing/region-fixture.ts";
import { Operator, outranks } from "./operator.ts";
import {
  addLearner,
  type OperatorStep,
  promoteLearner,
  removePeer,
  splitRegion,
  transferLeader,
} from "./operator-step.ts";

const timeouts = { operatorTimeoutMs: 600_000, stepTimeoutMs: 60_000, leaderStepTimeoutMs: 10_000 };

const start: RegionFixture = {
  confVer: 5n,
  version: 2n,
  peers: [
    [11n, 1n],
    [12n, 2n],
    [13n, 3n],
  ],
  leaderStoreId: 3n,
};

/** Moves the replica on store 3 (the leader) to store 4. */
function moveOperator(): Operator {
  const steps: OperatorStep[] = [
    addLearner(4n, 14n),
    promoteLearner(4n, 14n),
    transferLeader(3n, 1n),
    removePeer(3n, 13n),
  ];
  return new Operator({
    description: "test-move",
    kind: "region",
    priority: "normal",
    region: regionInfo(start),
    steps,
    nowMs: 0,
    wallClockMs: 1_700_000_000_000,
  });
}

describe("Operator", () => {
  it("advances through its steps as the region reports progress", () => {
    const operator = moveOperator();
    assert.equal(operator.advance(regionInfo(start), 1)?.kind, "add-learner");

    const learnerAdded = regionInfo({ ...start, confVer: 6n, peers: [...start.peers, [14n, 4n, "learner"]] });
    assert.equal(operator.advance(learnerAdded, 2)?.kind, "promote-learner");
    assert.equal(operator.foreignEpochChange(learnerAdded), undefined);

    const promoted = regionInfo({ ...start, confVer: 7n, peers: [...start.peers, [14n, 4n]] });
    assert.equal(operator.advance(promoted, 3)?.kind, "transfer-leader");
    const transferred = regionInfo({
      ...start,
      confVer: 7n,
      peers: [...start.peers, [14n, 4n]],
      leaderStoreId: 1n,
    });
    assert.equal(operator.advance(transferred, 4)?.kind, "remove-peer");

    const removed = regionInfo({
      confVer: 8n,
      version: 2n,
      peers: [
        [11n, 1n],
        [12n, 2n],
        [14n, 4n],
      ],
      leaderStoreId: 1n,
    });
    assert.equal(operator.advance(removed, 5), undefined);
    assert.equal(operator.currentStepIndex, 4);
    assert.equal(operator.foreignEpochChange(removed), undefined, "three conf changes, all its own");
  });

  it("does not skip ahead when a later step's goal holds by accident", () => {
    const operator = moveOperator();
    // The leader moved to store 1 by itself, but nothing was added yet.
    assert.equal(operator.advance(regionInfo({ ...start, leaderStoreId: 1n }), 1)?.kind, "add-learner");
  });

  it("detects a conf change it did not make", () => {
    const operator = moveOperator();
    const someoneElsesPeer = regionInfo({ ...start, confVer: 6n, peers: [...start.peers, [99n, 9n]] });
    operator.advance(someoneElsesPeer, 1);
    assert.match(
      operator.foreignEpochChange(someoneElsesPeer) ?? "",
      /conf_ver moved from 5 to 6 but the operator made 0/,
    );
  });

  it("detects a split under it unless it is a split operator", () => {
    const split = regionInfo({ ...start, version: 3n });
    assert.match(moveOperator().foreignEpochChange(split) ?? "", /version moved from 2 to 3/);
    const splitter = new Operator({
      description: "test-split",
      kind: "admin",
      priority: "highest",
      region: regionInfo(start),
      steps: [splitRegion({ policy: pdpb.CheckPolicy.SCAN, versionBefore: 2n })],
      nowMs: 0,
      wallClockMs: 0,
    });
    assert.equal(splitter.advance(split, 1), undefined);
    assert.equal(splitter.foreignEpochChange(split), undefined);
  });

  it("tells reports older than its plan apart", () => {
    const operator = moveOperator();
    assert.equal(operator.isOlderThanPlan(regionInfo({ ...start, confVer: 4n })), true);
    assert.equal(operator.isOlderThanPlan(regionInfo(start)), false);
  });

  it("times out a step that makes no progress, and the whole operator after its limit", () => {
    const operator = moveOperator();
    assert.equal(operator.timeoutReason(60_000, timeouts), undefined);
    assert.match(operator.timeoutReason(60_001, timeouts) ?? "", /add learner .* no progress for 60001 ms/);

    const learnerAdded = regionInfo({ ...start, confVer: 6n, peers: [...start.peers, [14n, 4n, "learner"]] });
    operator.advance(learnerAdded, 50_000);
    assert.equal(operator.timeoutReason(100_000, timeouts), undefined, "progress restarts the step clock");
    assert.match(operator.timeoutReason(600_001, timeouts) ?? "", /ran 600001 ms, over the 600000 ms limit/);
  });

  it("finishes once and reports its state in its view", () => {
    const operator = moveOperator();
    operator.finish("cancelled", "because", 1_700_000_000_500);
    operator.finish("success", undefined, 1_700_000_000_900);
    const view = operator.view();
    assert.equal(view.status, "cancelled");
    assert.equal(view.reason, "because");
    assert.equal(view.finishedAtMs, 1_700_000_000_500);
    assert.equal(view.createdAtMs, 1_700_000_000_000);
    assert.deepEqual(view.regionEpoch, { confVer: 5n, version: 2n });
    assert.equal(view.stepDescriptions[3], "remove peer 13 on store 3");
  });

  it("refuses an empty step list", () => {
    assert.throws(
      () =>
        new Operator({
          description: "nothing",
          kind: "admin",
          priority: "highest",
          region: regionInfo(start),
          steps: [],
          nowMs: 0,
          wallClockMs: 0,
        }),
      /has no steps/,
    );
  });

  it("ranks priorities strictly", () => {
    assert.equal(outranks("highest", "high"), true);
    assert.equal(outranks("high", "normal"), true);
    assert.equal(outranks("normal", "normal"), false);
    assert.equal(outranks("low", "normal"), false);
  });
});
