import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { eraftpb, metapb, pdpb } from "#proto";
import { regionInfo } from "../testing/region-fixture.ts";
import { SimulatedCluster } from "../testing/simulated-cluster.ts";
import {
  addLearner,
  confChangesApplied,
  describeStep,
  isStepFinished,
  promoteLearner,
  removePeer,
  splitRegion,
  stepObstacle,
  stepTimeoutMs,
  stepToResponse,
  transferLeader,
} from "./operator-step.ts";

/** Stores 1..4, all up. */
function clusterWithStores(): SimulatedCluster {
  const cluster = new SimulatedCluster({ firstId: 1n });
  for (let index = 0; index < 4; index++) cluster.addStore();
  return cluster;
}

const threeVoters = regionInfo({
  id: 7n,
  confVer: 5n,
  version: 3n,
  peers: [
    [11n, 1n],
    [12n, 2n],
    [13n, 3n],
  ],
  leaderStoreId: 1n,
});

describe("operator steps as heartbeat replies", () => {
  it("adds a learner with ADD_LEARNER_NODE, addressed to the leader at the region's current epoch", () => {
    const response = stepToResponse(addLearner(4n, 14n), threeVoters);
    assert.deepEqual(response.changePeer, {
      peer: { id: 14n, storeId: 4n, role: metapb.PeerRole.LEARNER },
      changeType: eraftpb.ConfChangeType.ADD_LEARNER_NODE,
    });
    assert.equal(response.regionId, 7n);
    assert.deepEqual(response.regionEpoch, { confVer: 5n, version: 3n });
    assert.equal(response.targetPeer?.id, 11n);
    assert.equal(response.transferLeader, undefined);
    assert.equal(response.splitRegion, undefined);
  });

  it("promotes with ADD_NODE and removes with REMOVE_NODE", () => {
    assert.equal(
      stepToResponse(promoteLearner(4n, 14n), threeVoters).changePeer?.changeType,
      eraftpb.ConfChangeType.ADD_NODE,
    );
    const removal = stepToResponse(removePeer(3n, 13n), threeVoters).changePeer;
    assert.equal(removal?.changeType, eraftpb.ConfChangeType.REMOVE_NODE);
    assert.deepEqual(removal?.peer, { id: 13n, storeId: 3n, role: metapb.PeerRole.VOTER });
  });

  it("names the target peer in a leader transfer", () => {
    const response = stepToResponse(transferLeader(1n, 2n), threeVoters);
    assert.deepEqual(response.transferLeader?.peer, { id: 12n, storeId: 2n, role: metapb.PeerRole.VOTER });
    assert.equal(response.changePeer, undefined);
  });

  it("carries the split policy and keys", () => {
    const keys = [new Uint8Array([1, 2])];
    const response = stepToResponse(
      splitRegion({ policy: pdpb.CheckPolicy.USE_KEY, keys, versionBefore: 3n }),
      threeVoters,
    );
    assert.deepEqual(response.splitRegion, { policy: pdpb.CheckPolicy.USE_KEY, keys });
  });

  it("describes each step for people", () => {
    assert.equal(describeStep(addLearner(4n, 14n)), "add learner peer 14 on store 4");
    assert.equal(describeStep(transferLeader(1n, 2n)), "transfer leader from store 1 to store 2");
    assert.equal(
      describeStep(splitRegion({ policy: pdpb.CheckPolicy.APPROXIMATE, versionBefore: 1n })),
      "split region (CHECK_POLICY_APPROXIMATE)",
    );
  });
});

describe("operator step completion", () => {
  it("counts an added learner as done only once it has caught up", () => {
    const step = addLearner(4n, 14n);
    const catchingUp = regionInfo({
      peers: [
        [11n, 1n],
        [14n, 4n, "learner"],
      ],
      pendingPeerIds: [14n],
    });
    const caughtUp = regionInfo({
      peers: [
        [11n, 1n],
        [14n, 4n, "learner"],
      ],
    });
    assert.equal(isStepFinished(step, threeVoters), false);
    assert.equal(isStepFinished(step, catchingUp), false);
    assert.equal(
      confChangesApplied(step, catchingUp),
      1,
      "the conf change happened even though the peer lags",
    );
    assert.equal(isStepFinished(step, caughtUp), true);
  });

  it("counts a promotion done when the peer votes", () => {
    const step = promoteLearner(4n, 14n);
    assert.equal(
      isStepFinished(
        step,
        regionInfo({
          peers: [
            [11n, 1n],
            [14n, 4n, "learner"],
          ],
        }),
      ),
      false,
    );
    assert.equal(
      isStepFinished(
        step,
        regionInfo({
          peers: [
            [11n, 1n],
            [14n, 4n],
          ],
        }),
      ),
      true,
    );
  });

  it("counts a removal done when the store holds no peer of the region", () => {
    const step = removePeer(3n, 13n);
    assert.equal(isStepFinished(step, threeVoters), false);
    assert.equal(
      isStepFinished(
        step,
        regionInfo({
          peers: [
            [11n, 1n],
            [12n, 2n],
          ],
        }),
      ),
      true,
    );
  });

  it("counts a transfer done when the target leads, and a split when the version moved", () => {
    assert.equal(isStepFinished(transferLeader(1n, 2n), threeVoters), false);
    assert.equal(
      isStepFinished(transferLeader(1n, 2n), { ...threeVoters, leader: threeVoters.meta.peers[1] }),
      true,
    );
    const split = splitRegion({ policy: pdpb.CheckPolicy.SCAN, versionBefore: 3n });
    assert.equal(isStepFinished(split, threeVoters), false);
    assert.equal(isStepFinished(split, regionInfo({ version: 4n, peers: [[11n, 1n]] })), true);
  });

  it("gives leader transfers the short timeout", () => {
    const timeouts = { stepTimeoutMs: 300_000, leaderStepTimeoutMs: 10_000 };
    assert.equal(stepTimeoutMs(transferLeader(1n, 2n), timeouts), 10_000);
    assert.equal(stepTimeoutMs(addLearner(4n, 14n), timeouts), 300_000);
  });
});

describe("operator step obstacles", () => {
  it("refuses to remove the leader's peer", () => {
    assert.match(stepObstacle(removePeer(1n, 11n), threeVoters, clusterWithStores()) ?? "", /is the leader/);
    assert.equal(stepObstacle(removePeer(3n, 13n), threeVoters, clusterWithStores()), undefined);
  });

  it("stops adding to a store that went down or already holds another peer", () => {
    const cluster = clusterWithStores();
    assert.equal(stepObstacle(addLearner(4n, 14n), threeVoters, cluster), undefined);
    assert.match(stepObstacle(addLearner(3n, 14n), threeVoters, cluster) ?? "", /already holds peer 13/);
    cluster.setStoreHealth(4n, "down");
    assert.match(stepObstacle(addLearner(4n, 14n), threeVoters, cluster) ?? "", /target store 4 is down/);
  });

  it("cannot promote a learner that disappeared nor transfer to a non-voter", () => {
    const cluster = clusterWithStores();
    assert.match(stepObstacle(promoteLearner(4n, 14n), threeVoters, cluster) ?? "", /no longer on store 4/);
    const withLearner = regionInfo({
      peers: [
        [11n, 1n],
        [14n, 4n, "learner"],
      ],
    });
    assert.match(stepObstacle(transferLeader(1n, 4n), withLearner, cluster) ?? "", /holds no voter/);
  });
});
