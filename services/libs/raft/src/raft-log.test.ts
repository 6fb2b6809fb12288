import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MemoryStorage } from "./memory-storage.ts";
import { RaftLog } from "./raft-log.ts";
import { type Entry, EntryType } from "./types.ts";

function entries(first: number, terms: readonly number[], type = EntryType.Normal): Entry[] {
  return terms.map((term, i) => ({ index: first + i, term, type, data: new Uint8Array(4) }));
}

/** A log whose storage holds `storedTerms` from index 1 and whose unstable part holds `unstableTerms`. */
function logWith(storedTerms: readonly number[], unstableTerms: readonly number[] = []): RaftLog {
  const storage = new MemoryStorage();
  storage.append(entries(1, storedTerms));
  const log = new RaftLog(1, storage, Number.MAX_SAFE_INTEGER);
  if (unstableTerms.length > 0) log.append(entries(storedTerms.length + 1, unstableTerms));
  return log;
}

const indexes = (list: readonly Entry[] | undefined): number[] => (list ?? []).map((e) => e.index);

describe("RaftLog", () => {
  it("reads terms across stable and unstable parts", () => {
    const log = logWith([1, 1, 2], [2, 3]);
    assert.equal(log.firstIndex(), 1);
    assert.equal(log.lastIndex(), 5);
    assert.equal(log.lastTerm(), 3);
    assert.equal(log.term(3), 2);
    assert.equal(log.term(5), 3);
    assert.equal(log.term(6), undefined);
    assert.equal(log.term(0), 0);
  });

  it("decides the election restriction by last term, then length", () => {
    const log = logWith([1, 2, 2]);
    assert.equal(log.isUpToDate(3, 2), true);
    assert.equal(log.isUpToDate(2, 2), false);
    assert.equal(log.isUpToDate(1, 3), true);
    assert.equal(log.isUpToDate(9, 1), false);
  });

  it("maybeAppend rejects a mismatch at the previous entry", () => {
    const log = logWith([1, 1, 2]);
    assert.equal(log.maybeAppend(3, 1, 0, entries(4, [2])), -1);
    assert.equal(log.maybeAppend(4, 2, 0, []), -1);
  });

  it("maybeAppend keeps matching entries and replaces a conflicting suffix", () => {
    const log = logWith([1, 1, 2, 2]);
    assert.equal(log.maybeAppend(2, 1, 2, entries(3, [2, 3, 3])), 5);
    assert.deepEqual(
      [1, 2, 3, 4, 5].map((i) => log.term(i)),
      [1, 1, 2, 3, 3],
    );
    assert.equal(log.committed, 2);
    assert.equal(log.maybeAppend(5, 3, 9, []), 5);
    assert.equal(log.committed, 5, "commit is capped by the last new index");
  });

  it("refuses to overwrite committed entries", () => {
    const log = logWith([1, 1, 1]);
    log.commitTo(3);
    assert.throws(() => log.maybeAppend(1, 1, 3, entries(2, [2, 2])), /conflicts with committed/);
    assert.throws(() => log.commitTo(9), /past the last index/);
  });

  it("finds the last index whose term can still match", () => {
    const log = logWith([1, 3, 3, 3, 5, 5]);
    assert.equal(log.findConflictByTerm(6, 4), 4);
    assert.equal(log.findConflictByTerm(6, 2), 1);
    assert.equal(log.findConflictByTerm(6, 9), 6);
    assert.equal(log.findConflictByTerm(3, 0), 0);
  });

  it("commits only entries of the given term unless told otherwise", () => {
    const log = logWith([1, 1, 2]);
    assert.equal(log.maybeCommit(2, 2, false), false);
    assert.equal(log.maybeCommit(3, 2, false), true);
    assert.equal(log.committed, 3);
    const buggy = logWith([1, 1, 2]);
    assert.equal(buggy.maybeCommit(2, 2, true), true);
  });

  it("slices across the stable and unstable parts within a size budget", () => {
    const log = logWith([1, 1, 1], [2, 2]);
    assert.deepEqual(indexes(log.slice(2, 6, Number.MAX_SAFE_INTEGER)), [2, 3, 4, 5]);
    assert.deepEqual(indexes(log.slice(4, 6, Number.MAX_SAFE_INTEGER)), [4, 5]);
    assert.deepEqual(indexes(log.slice(2, 6, 40)), [2, 3]);
    assert.deepEqual(indexes(log.slice(3, 6, 40)), [3, 4]);
    assert.deepEqual(indexes(log.slice(2, 6, 0)), [2]);
    assert.deepEqual(indexes(log.entriesFrom(6, 100)), []);
  });

  it("reports compacted ranges as undefined", () => {
    const storage = new MemoryStorage();
    storage.append(entries(1, [1, 1, 1, 1]));
    storage.createSnapshot(3, { voters: [1], learners: [] }, new Uint8Array());
    storage.compact(3);
    const log = new RaftLog(1, storage, 100);
    assert.equal(log.slice(2, 4, 100), undefined);
    assert.equal(log.term(2), undefined);
    assert.equal(log.term(3), 1);
    assert.deepEqual(indexes(log.slice(4, 5, 100)), [4]);
  });

  it("hands out committed entries only once they are durable", () => {
    const storage = new MemoryStorage();
    storage.append(entries(1, [1, 1]));
    const log = new RaftLog(1, storage, Number.MAX_SAFE_INTEGER);
    log.append(entries(3, [1, 1]));
    log.commitTo(4);
    assert.equal(log.persistedIndex(), 2);
    assert.deepEqual(indexes(log.committedEntriesToHandOut()), [1, 2]);
    log.applying = 2;
    assert.equal(log.hasCommittedEntriesToHandOut(), false);
    storage.append(entries(3, [1, 1]));
    log.unstable.acceptInProgress();
    log.unstable.stableTo(4, 1);
    assert.deepEqual(indexes(log.committedEntriesToHandOut()), [3, 4]);
  });

  it("applies only what was handed out", () => {
    const log = logWith([1, 1]);
    log.commitTo(2);
    log.applying = 1;
    log.appliedTo(1);
    assert.throws(() => log.appliedTo(2), /never handed out/);
  });

  it("finds unapplied conf changes among committed entries", () => {
    const storage = new MemoryStorage();
    storage.append([...entries(1, [1, 1]), ...entries(3, [1], EntryType.ConfChange), ...entries(4, [1])]);
    const log = new RaftLog(1, storage, 10);
    log.commitTo(4);
    assert.equal(log.hasUnappliedConfChange(), true);
    log.applying = 3;
    log.appliedTo(3);
    assert.equal(log.hasUnappliedConfChange(), false);
  });

  it("restores from a snapshot, which is committed", () => {
    const log = logWith([1, 1], [1]);
    log.restore({
      metadata: { index: 10, term: 4, confState: { voters: [1], learners: [] } },
      data: new Uint8Array(),
    });
    assert.equal(log.committed, 10);
    assert.equal(log.firstIndex(), 11);
    assert.equal(log.lastIndex(), 10);
    assert.equal(log.lastTerm(), 4);
    assert.equal(log.hasCommittedEntriesToHandOut(), false);
  });
});
