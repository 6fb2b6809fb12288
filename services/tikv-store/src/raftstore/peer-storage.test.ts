import assert from "node:assert/strict";
import { test } from "node:test";
import {
  CompactedError,
  type Entry,
  EntryType,
  SnapshotTemporarilyUnavailableError,
  UnavailableError,
} from "#raft";
import { PeerStorage, PeerStorageInvariantError } from "./peer-storage.ts";

const entry = (index: number, term: number, size = 4): Entry => ({
  index,
  term,
  type: EntryType.Normal,
  data: new Uint8Array(size),
});

interface Environment {
  /** Snapshots asked for. */
  wanted: number;
  epoch: { confVer: bigint; version: bigint };
}

function storage(environment: Environment = { wanted: 0, epoch: { confVer: 1n, version: 1n } }): PeerStorage {
  return new PeerStorage(
    {
      hardState: { term: 5, vote: 0, commit: 5 },
      confState: { voters: [1], learners: [] },
      truncatedIndex: 5,
      truncatedTerm: 5,
      entries: [entry(6, 5), entry(7, 5), entry(8, 6)],
    },
    {
      onSnapshotWanted: () => environment.wanted++,
      currentEpoch: () => environment.epoch,
    },
  );
}

test("the log holds (truncated, last] and answers terms and ranges", () => {
  const log = storage();
  assert.equal(log.firstIndex(), 6);
  assert.equal(log.lastIndex(), 8);
  assert.equal(log.term(5), 5);
  assert.equal(log.term(8), 6);
  assert.throws(() => log.term(4), CompactedError);
  assert.throws(() => log.term(9), UnavailableError);
  assert.deepEqual(
    log.entries(6, 9, Number.POSITIVE_INFINITY).map((e) => e.index),
    [6, 7, 8],
  );
  assert.deepEqual(
    log.entries(6, 9, 1).map((e) => e.index),
    [6],
    "at least one entry even over the budget",
  );
  assert.throws(() => log.entries(5, 7, 100), CompactedError);
  assert.throws(() => log.entries(7, 10, 100), UnavailableError);
});

test("an append replaces the conflicting suffix and keeps the size count", () => {
  const log = storage();
  log.append([entry(7, 7, 10)]);
  assert.equal(log.lastIndex(), 7);
  assert.equal(log.term(7), 7);
  assert.equal(log.sizeBytes, 14);
  assert.throws(() => log.append([entry(9, 7)]), PeerStorageInvariantError);
});

test("compaction and snapshots move the first index", () => {
  const log = storage();
  log.compactTo(7);
  assert.equal(log.firstIndex(), 8);
  assert.equal(log.term(7), 5);
  assert.equal(log.entryCount, 1);
  log.installSnapshot(20, 9, { voters: [1, 2], learners: [] });
  assert.equal(log.firstIndex(), 21);
  assert.equal(log.lastIndex(), 20);
  assert.equal(log.term(20), 9);
  assert.deepEqual(log.initialState().confState.voters, [1, 2]);
});

const snapshotAt = (index: number) => ({
  metadata: { index, term: 5, confState: { voters: [1], learners: [] } },
  data: new Uint8Array(0),
});

test("a snapshot is generated on demand and only offered while it covers the log's start", () => {
  const environment = { wanted: 0, epoch: { confVer: 1n, version: 1n } };
  const log = storage(environment);
  assert.throws(() => log.snapshot(), SnapshotTemporarilyUnavailableError);
  assert.equal(environment.wanted, 1);
  const snapshot = snapshotAt(7);
  log.offerSnapshot(snapshot, { confVer: 1n, version: 1n });
  assert.equal(log.snapshot(), snapshot);
  log.compactTo(8);
  assert.throws(() => log.snapshot(), SnapshotTemporarilyUnavailableError, "older than the truncated index");
  assert.equal(environment.wanted, 2);
});

test("a snapshot of an older region epoch is regenerated instead of sent", () => {
  const environment = { wanted: 0, epoch: { confVer: 1n, version: 1n } };
  const log = storage(environment);
  const snapshot = snapshotAt(8);
  log.offerSnapshot(snapshot, { confVer: 1n, version: 1n });
  // A learner was added after the snapshot was generated: the snapshot does not name it.
  environment.epoch = { confVer: 2n, version: 1n };
  assert.throws(() => log.snapshot(), SnapshotTemporarilyUnavailableError, "older membership");
  assert.equal(environment.wanted, 1);
  const fresh = snapshotAt(8);
  log.offerSnapshot(fresh, { confVer: 2n, version: 1n });
  assert.equal(log.snapshot(), fresh);
  environment.epoch = { confVer: 2n, version: 2n };
  assert.throws(() => log.snapshot(), SnapshotTemporarilyUnavailableError, "older key range");
  assert.equal(environment.wanted, 2);
});
