import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { eraftpb } from "#proto";
import { SeededRandom } from "#runtime";
import { testRaftMessage } from "../testing/raft-message-fixture.ts";
import {
  delayMatching,
  dropMatching,
  dropRandomly,
  isolateStore,
  partition,
} from "../testing/transport-filters.ts";
import { DELIVER, DROP, TransportFilterChain } from "./transport-filter.ts";

const between = (fromStoreId: bigint, toStoreId: bigint, type?: eraftpb.MessageType) =>
  testRaftMessage({ regionId: 1n, fromStoreId, toStoreId, type });

describe("transport filters", () => {
  test("a partition drops messages across groups in both directions and keeps those inside a group", () => {
    const filter = partition([[1n], [2n, 3n]]);
    assert.deepEqual(filter.decide(between(1n, 2n), "send"), DROP);
    assert.deepEqual(filter.decide(between(3n, 1n), "receive"), DROP);
    assert.deepEqual(filter.decide(between(2n, 3n), "send"), DELIVER);
    assert.deepEqual(filter.decide(between(3n, 2n), "receive"), DELIVER);
  });

  test("a store in no group is cut off from every grouped store", () => {
    const filter = partition([[1n, 2n]]);
    assert.deepEqual(filter.decide(between(4n, 1n), "send"), DROP);
    assert.deepEqual(filter.decide(between(1n, 2n), "send"), DELIVER);
  });

  test("a store listed in two groups is refused", () => {
    assert.throws(() => partition([[1n], [1n, 2n]]), /store 1 is in two partition groups/);
  });

  test("isolating a store drops its traffic only", () => {
    const filter = isolateStore(2n);
    assert.deepEqual(filter.decide(between(2n, 1n), "send"), DROP);
    assert.deepEqual(filter.decide(between(3n, 2n), "receive"), DROP);
    assert.deepEqual(filter.decide(between(1n, 3n), "send"), DELIVER);
  });

  test("dropMatching selects by message type, region and side", () => {
    const heartbeats = dropMatching({ types: [eraftpb.MessageType.HEARTBEAT], side: "receive" });
    assert.deepEqual(heartbeats.decide(between(1n, 2n, eraftpb.MessageType.HEARTBEAT), "receive"), DROP);
    assert.deepEqual(heartbeats.decide(between(1n, 2n, eraftpb.MessageType.HEARTBEAT), "send"), DELIVER);
    assert.deepEqual(heartbeats.decide(between(1n, 2n, eraftpb.MessageType.APPEND), "receive"), DELIVER);

    const otherRegion = dropMatching({ regionId: 7n });
    assert.deepEqual(otherRegion.decide(between(1n, 2n), "send"), DELIVER);
    const sameRegion = testRaftMessage({ regionId: 7n, fromStoreId: 1n, toStoreId: 2n });
    assert.deepEqual(otherRegion.decide(sameRegion, "send"), DROP);
  });

  test("dropRandomly drops none at 0, all at 1 and some but not all at 0.5", () => {
    const random = new SeededRandom(42n);
    const decide = (probability: number) => {
      const filter = dropRandomly(probability, random);
      return Array.from({ length: 500 }, () => filter.decide(between(1n, 2n), "send").kind);
    };
    assert.ok(decide(0).every((kind) => kind === "deliver"));
    assert.ok(decide(1).every((kind) => kind === "drop"));
    const half = decide(0.5);
    assert.ok(half.includes("drop") && half.includes("deliver"));
    assert.throws(() => dropRandomly(1.5, random), RangeError);
  });

  test("a chain: the first drop wins, delays add up, clear heals everything", () => {
    const chain = new TransportFilterChain();
    chain.add(delayMatching(30));
    chain.add(delayMatching(20, { types: [eraftpb.MessageType.APPEND] }));
    assert.deepEqual(chain.decide(between(1n, 2n, eraftpb.MessageType.APPEND), "send"), {
      kind: "delay",
      delayMs: 50,
    });
    assert.deepEqual(chain.decide(between(1n, 2n, eraftpb.MessageType.APPEND), "receive"), DELIVER);
    chain.add(partition([[1n], [2n]]));
    assert.deepEqual(chain.decide(between(1n, 2n), "send"), DROP);
    assert.equal(chain.installed.length, 3);
    chain.clear();
    assert.deepEqual(chain.decide(between(1n, 2n), "send"), DELIVER);
  });
});
