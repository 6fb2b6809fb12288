import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Progress, ProgressState } from "./progress.ts";

function progress(next: number, match = 0): Progress {
  const result = new Progress(next, 2, 0, false);
  result.match = match;
  return result;
}

describe("Progress", () => {
  it("maybeUpdate only moves forward and keeps match < next", () => {
    const subject = progress(5, 2);
    assert.equal(subject.maybeUpdate(1), false);
    assert.equal(subject.maybeUpdate(7), true);
    assert.equal(subject.match, 7);
    assert.equal(subject.next, 8);
    assert.equal(subject.maybeUpdate(3), false);
    assert.equal(subject.next, 8);
  });

  it("probe: one append at a time, rejections must answer the current probe", () => {
    const subject = progress(10, 3);
    subject.sentEntries(2, 20);
    assert.equal(subject.isPaused(), true);
    assert.equal(subject.maybeDecreaseTo(7, 5), false, "stale rejection of another probe");
    assert.equal(subject.maybeDecreaseTo(9, 5), true);
    assert.equal(subject.next, 6, "next = hint + 1");
    assert.equal(subject.isPaused(), false);
    assert.equal(subject.maybeDecreaseTo(5, 0), true);
    assert.equal(subject.next, 4, "never below match + 1");
  });

  it("replicate: streams appends within the inflight window", () => {
    const subject = progress(4, 3);
    subject.becomeReplicate();
    subject.sentEntries(3, 30);
    assert.equal(subject.next, 7);
    assert.equal(subject.isPaused(), false);
    subject.sentEntries(1, 10);
    assert.equal(subject.isPaused(), true, "window of 2 is full");
    subject.maybeUpdate(6);
    subject.inflights.freeLE(6);
    assert.equal(subject.inflights.count, 1);
    assert.equal(subject.maybeDecreaseTo(5, 0), false, "rejection below match is stale");
    assert.equal(subject.maybeDecreaseTo(7, 0), true);
    assert.equal(subject.next, 7, "back to match + 1");
  });

  it("snapshot: paused until the snapshot resolves, then probes after it", () => {
    const subject = progress(4, 3);
    subject.becomeSnapshot(20);
    assert.equal(subject.state, ProgressState.Snapshot);
    assert.equal(subject.isPaused(), true);
    subject.becomeProbe();
    assert.equal(subject.next, 21);
    assert.equal(subject.state, ProgressState.Probe);
  });

  it("knows when the follower may lack the commit index", () => {
    const subject = progress(10, 9);
    subject.sentCommitIndex(5);
    assert.equal(subject.canBumpCommit(8), true);
    subject.sentCommitIndex(8);
    assert.equal(subject.canBumpCommit(8), false);
  });
});
