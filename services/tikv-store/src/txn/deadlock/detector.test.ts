import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Clock } from "#runtime";
import { silentLogger } from "../../testing/silent-observability.ts";
import { DeadlockDetector } from "./detector.ts";

function edge(txn: bigint, waitForTxn: bigint, keyHash = 1n) {
  return { txn, waitForTxn, keyHash, key: Buffer.from(`key-${keyHash}`) };
}

function detector(clock: Clock = { nowMs: () => 0, monotonicMs: () => 0 }) {
  return new DeadlockDetector({ storeId: 1n, clock, logger: silentLogger(), ttlMs: 3_000 });
}

describe("DeadlockDetector", () => {
  it("answers not-leader and records nothing until it leads the first region", () => {
    const subject = detector();
    assert.equal(subject.isLeader, false);
    assert.deepEqual(subject.detect(edge(1n, 2n)), { kind: "not-leader" });
    subject.cleanUpWaitFor(edge(1n, 2n));
    subject.cleanUp(1n);
    assert.equal(subject.entries(), undefined);
    subject.setRole(true);
    assert.deepEqual(subject.entries(), []);
  });

  it("refuses the edge that closes a cycle, reporting the chain with each edge's wait time", () => {
    let nowMs = 1_000;
    const subject = detector({ nowMs: () => nowMs, monotonicMs: () => nowMs });
    subject.setRole(true);
    assert.deepEqual(subject.detect(edge(1n, 2n, 12n)), { kind: "no-deadlock" });
    nowMs += 250;
    assert.deepEqual(subject.detect(edge(2n, 3n, 23n)), { kind: "no-deadlock" });
    nowMs += 250;
    assert.deepEqual(subject.detect(edge(3n, 1n, 31n)), {
      kind: "deadlock",
      deadlockKeyHash: 23n,
      deadlockKey: Buffer.from("key-23"),
      waitChain: [
        { txn: 1n, waitForTxn: 2n, keyHash: 12n, key: Buffer.from("key-12"), waitTimeMs: 500n },
        { txn: 2n, waitForTxn: 3n, keyHash: 23n, key: Buffer.from("key-23"), waitTimeMs: 250n },
      ],
    });
    subject.cleanUpWaitFor(edge(2n, 3n, 23n));
    assert.deepEqual(subject.detect(edge(3n, 1n, 31n)), { kind: "no-deadlock" });
    subject.cleanUp(1n);
    assert.deepEqual(
      subject.entries()?.map((entry) => [entry.txn, entry.waitForTxn]),
      [[3n, 1n]],
    );
  });

  it("a full graph is reported as such", () => {
    const subject = new DeadlockDetector({
      storeId: 1n,
      clock: { nowMs: () => 0, monotonicMs: () => 0 },
      logger: silentLogger(),
      maxEntries: 1,
    });
    subject.setRole(true);
    subject.detect(edge(1n, 2n));
    assert.deepEqual(subject.detect(edge(3n, 4n)), { kind: "graph-full" });
  });

  it("a change of role clears the graph; the same role again keeps it", () => {
    const subject = detector();
    subject.setRole(true);
    subject.detect(edge(1n, 2n));
    subject.setRole(true);
    assert.equal(subject.entries()?.length, 1, "a split of the first region under the same leader");
    subject.setRole(false);
    subject.setRole(true);
    assert.deepEqual(subject.entries(), [], "a new term as detector starts empty");
  });
});
