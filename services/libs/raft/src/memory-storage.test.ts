import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { CompactionBeyondSnapshotError, MemoryStorage } from "./memory-storage.ts";
import { CompactedError, SnapshotOutOfDateError, UnavailableError } from "./storage.ts";
import { type Entry, EntryType } from "./types.ts";

function entry(index: number, term: number, text = ""): Entry {
  return { index, term, type: EntryType.Normal, data: new TextEncoder().encode(text) };
}

function storageWith(...entries: Entry[]): MemoryStorage {
  const storage = new MemoryStorage();
  storage.append(entries);
  return storage;
}

const CONF = { voters: [1, 2, 3], learners: [] };

describe("MemoryStorage", () => {
  it("starts empty at index 0", () => {
    const storage = new MemoryStorage();
    assert.equal(storage.firstIndex(), 1);
    assert.equal(storage.lastIndex(), 0);
    assert.equal(storage.term(0), 0);
    assert.deepEqual(storage.initialState().hardState, { term: 0, vote: 0, commit: 0 });
  });

  it("serves terms and entries in range and refuses others", () => {
    const storage = storageWith(entry(1, 1), entry(2, 1), entry(3, 2));
    assert.equal(storage.term(3), 2);
    assert.throws(() => storage.term(4), UnavailableError);
    assert.deepEqual(
      storage.entries(2, 4, Number.MAX_SAFE_INTEGER).map((e) => e.index),
      [2, 3],
    );
    assert.throws(() => storage.entries(2, 5, 100), UnavailableError);
  });

  it("limits entries by size but returns at least one", () => {
    const storage = storageWith(entry(1, 1, "aaaaaaaaaa"), entry(2, 1, "bbbbbbbbbb"), entry(3, 1, "c"));
    assert.equal(storage.entries(1, 4, 0).length, 1);
    assert.equal(storage.entries(1, 4, 52).length, 2);
    assert.equal(storage.entries(1, 4, 1000).length, 3);
  });

  it("overwrites a conflicting suffix on append", () => {
    const storage = storageWith(entry(1, 1), entry(2, 1), entry(3, 1));
    storage.append([entry(2, 2), entry(3, 2), entry(4, 2)]);
    assert.deepEqual(
      storage.entries(1, 5, 1000).map((e) => e.term),
      [1, 2, 2, 2],
    );
    storage.append([entry(3, 3)]);
    assert.equal(storage.lastIndex(), 3);
    assert.throws(() => storage.append([entry(9, 3)]), UnavailableError);
  });

  it("compacts only what a snapshot covers, keeping the term at the compaction point", () => {
    const storage = storageWith(entry(1, 1), entry(2, 1), entry(3, 2), entry(4, 2));
    assert.throws(() => storage.compact(2), CompactionBeyondSnapshotError);
    storage.createSnapshot(3, CONF, new Uint8Array([7]));
    storage.compact(2);
    assert.equal(storage.firstIndex(), 3);
    assert.equal(storage.term(2), 1);
    assert.throws(() => storage.term(1), CompactedError);
    assert.throws(() => storage.entries(2, 3, 100), CompactedError);
    assert.throws(() => storage.compact(2), CompactedError);
    assert.equal(storage.snapshot().metadata.index, 3);
    assert.equal(storage.snapshot().metadata.term, 2);
  });

  it("installs a received snapshot, dropping the log, and refuses older ones", () => {
    const storage = storageWith(entry(1, 1), entry(2, 1));
    storage.applySnapshot({ metadata: { index: 10, term: 3, confState: CONF }, data: new Uint8Array() });
    assert.equal(storage.firstIndex(), 11);
    assert.equal(storage.lastIndex(), 10);
    assert.equal(storage.term(10), 3);
    assert.deepEqual(storage.initialState().confState, CONF);
    assert.throws(
      () =>
        storage.applySnapshot({ metadata: { index: 5, term: 2, confState: CONF }, data: new Uint8Array() }),
      SnapshotOutOfDateError,
    );
    storage.append([entry(11, 3)]);
    assert.equal(storage.lastIndex(), 11);
  });

  it("keeps hard state and applied configuration for restarts", () => {
    const storage = new MemoryStorage();
    storage.setHardState({ term: 4, vote: 2, commit: 0 });
    storage.setConfState({ voters: [1, 2], learners: [3] });
    assert.deepEqual(storage.initialState(), {
      hardState: { term: 4, vote: 2, commit: 0 },
      confState: { voters: [1, 2], learners: [3] },
    });
  });
});
