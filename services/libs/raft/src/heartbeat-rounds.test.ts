import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { HeartbeatRounds } from "./heartbeat-rounds.ts";
import { ReadIndexQueue } from "./read-only.ts";

describe("HeartbeatRounds", () => {
  it("grants a lease from the send tick of the latest round a quorum confirmed", () => {
    const rounds = new HeartbeatRounds();
    assert.equal(rounds.leaseValid(0, 8), false);
    const first = rounds.start(3);
    const second = rounds.start(5);
    assert.equal(rounds.confirm(first), true);
    assert.equal(rounds.leaseValid(10, 8), true);
    assert.equal(rounds.leaseValid(11, 8), false);
    assert.equal(rounds.confirm(first), false, "old news");
    rounds.confirm(second);
    assert.equal(rounds.leaseRemaining(11, 8), 2);
  });

  it("extends nothing from a round too old to remember", () => {
    const rounds = new HeartbeatRounds();
    const old = rounds.start(0);
    for (let i = 0; i < 300; i++) rounds.start(1);
    assert.equal(rounds.confirm(old), true);
    assert.equal(rounds.leaseValid(1, 8), false);
  });

  it("forgets everything on reset", () => {
    const rounds = new HeartbeatRounds();
    rounds.confirm(rounds.start(0));
    rounds.reset();
    assert.equal(rounds.current, 0);
    assert.equal(rounds.leaseValid(0, 8), false);
  });
});

describe("ReadIndexQueue", () => {
  const read = (requiredRound: number, index = 7) => ({
    requester: 1,
    context: new Uint8Array([requiredRound]),
    index,
    requiredRound,
  });

  it("releases the reads a confirmed round covers, in order", () => {
    const queue = new ReadIndexQueue(10);
    queue.add(read(1));
    queue.add(read(1));
    queue.add(read(2));
    assert.deepEqual(
      queue.releaseConfirmed(1).map((r) => r.requiredRound),
      [1, 1],
    );
    assert.equal(queue.size, 1);
    assert.deepEqual(queue.releaseConfirmed(1), []);
    assert.equal(queue.releaseConfirmed(5).length, 1);
    assert.equal(queue.size, 0);
  });

  it("refuses reads beyond its capacity", () => {
    const queue = new ReadIndexQueue(2);
    assert.equal(queue.add(read(1)), true);
    assert.equal(queue.add(read(1)), true);
    assert.equal(queue.add(read(1)), false);
  });
});
