import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type Entry, EntryType } from "./types.ts";
import { Unstable } from "./unstable.ts";

function entries(first: number, terms: readonly number[]): Entry[] {
  return terms.map((term, i) => ({ index: first + i, term, type: EntryType.Normal, data: new Uint8Array() }));
}

describe("Unstable", () => {
  it("hands out each entry once and drops entries once durable", () => {
    const unstable = new Unstable(1, 5);
    unstable.truncateAndAppend(entries(5, [1, 1, 1]), 0);
    assert.deepEqual(
      unstable.entriesToHandOut().map((e) => e.index),
      [5, 6, 7],
    );
    unstable.acceptInProgress();
    assert.equal(unstable.hasEntriesToHandOut(), false);
    assert.equal(unstable.stableTo(6, 1), true);
    assert.equal(unstable.offset, 7);
    assert.equal(unstable.maybeTerm(7), 1);
    assert.equal(unstable.maybeTerm(6), undefined);
  });

  it("ignores a stale durability report for an overwritten entry", () => {
    const unstable = new Unstable(1, 5);
    unstable.truncateAndAppend(entries(5, [1, 1, 1]), 0);
    unstable.acceptInProgress();
    unstable.truncateAndAppend(entries(6, [2]), 0);
    assert.equal(unstable.inProgressOffset, 6, "the overwritten entry must be handed out again");
    assert.equal(unstable.stableTo(7, 1), false, "entry 7 no longer exists");
    assert.equal(unstable.stableTo(6, 1), false, "entry 6 has another term now");
    assert.equal(unstable.stableTo(5, 1), true);
  });

  it("replaces everything when the new entries start at or before the offset", () => {
    const unstable = new Unstable(1, 5);
    unstable.truncateAndAppend(entries(5, [1, 1]), 0);
    unstable.acceptInProgress();
    unstable.truncateAndAppend(entries(3, [2, 2]), 0);
    assert.equal(unstable.offset, 3);
    assert.equal(unstable.inProgressOffset, 3);
    assert.equal(unstable.maybeLastIndex(), 4);
  });

  it("refuses an append that would leave a gap", () => {
    const unstable = new Unstable(1, 5);
    assert.throws(() => unstable.truncateAndAppend(entries(7, [1]), 0), /gap/);
  });

  it("holds an incoming snapshot until it is durable", () => {
    const unstable = new Unstable(1, 5);
    unstable.truncateAndAppend(entries(5, [1]), 0);
    unstable.restore({
      metadata: { index: 20, term: 3, confState: { voters: [1], learners: [] } },
      data: new Uint8Array(),
    });
    assert.equal(unstable.maybeFirstIndex(), 21);
    assert.equal(unstable.maybeLastIndex(), 20);
    assert.equal(unstable.maybeTerm(20), 3);
    assert.ok(unstable.snapshotToHandOut() !== undefined);
    unstable.acceptInProgress();
    assert.equal(unstable.snapshotToHandOut(), undefined);
    assert.equal(unstable.stableSnapshotTo(19), false);
    assert.equal(unstable.stableSnapshotTo(20), true);
    assert.equal(unstable.snapshot, undefined);
  });
});
