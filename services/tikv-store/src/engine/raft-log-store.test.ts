import assert from "node:assert/strict";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { type Entry, EntryType, entrySizeBytes } from "#raft";
import { WriteBatch } from "#rocksdb";
import { temporaryDirectory } from "../testing/temporary-directory.ts";
import { RaftEngine } from "./raft-engine.ts";
import { RaftLogGapError, RaftLogStore } from "./raft-log-store.ts";

const root = temporaryDirectory("raft-log-store");
let directoryCount = 0;

async function openStore(directory = join(root, `engine-${directoryCount++}`)): Promise<RaftLogStore> {
  const engine = await RaftEngine.open(directory);
  after(() => engine.close());
  return new RaftLogStore(engine);
}

function entries(first: number, last: number, term: number): Entry[] {
  const made: Entry[] = [];
  for (let index = first; index <= last; index++) {
    made.push({ term, index, type: EntryType.Normal, data: Uint8Array.of(index % 256, term) });
  }
  return made;
}

async function append(store: RaftLogStore, regionId: bigint, batchEntries: Entry[], previousLast: number) {
  const batch = new WriteBatch();
  const last = store.appendEntries(batch, regionId, batchEntries, previousLast);
  await store.engine.write(batch, { sync: true });
  return last;
}

const termsOf = (log: readonly Entry[]) => log.map((entry) => [entry.index, entry.term]);

describe("RaftLogStore", () => {
  it("appends and reads ranges, keeping entry type and data", async () => {
    const store = await openStore();
    const confChange: Entry = { term: 1, index: 4, type: EntryType.ConfChange, data: Uint8Array.of(9) };
    assert.equal(await append(store, 1n, [...entries(1, 3, 1), confChange], 0), 4);
    assert.deepEqual(await store.entries(1n, 1, 5), [...entries(1, 3, 1), confChange]);
    assert.deepEqual(await store.entries(1n, 2, 3), entries(2, 2, 1));
    assert.deepEqual(await store.entries(1n, 3, 3), []);
    assert.equal(await store.firstStoredIndex(1n), 1);
    assert.equal(await store.firstStoredIndex(2n), undefined);
  });

  it("overwrites a conflicting suffix and deletes stale entries past the new last index", async () => {
    const store = await openStore();
    await append(store, 1n, entries(1, 10, 1), 0);
    assert.equal(await append(store, 1n, entries(6, 7, 2), 10), 7);
    assert.deepEqual(termsOf(await store.entries(1n, 1, 8)), [...termsOf(entries(1, 5, 1)), [6, 2], [7, 2]]);
    await assert.rejects(store.entries(1n, 7, 9), RaftLogGapError);
    const leftovers = await store.engine.db.scan("default", { limit: 100 });
    assert.equal(leftovers.length, 7);
  });

  it("refuses appends that would leave a gap or are not consecutive", () => {
    const store = new RaftLogStore(undefined as unknown as RaftEngine);
    const batch = new WriteBatch();
    assert.throws(() => store.appendEntries(batch, 1n, entries(5, 6, 1), 3), /gap at index 4/);
    const skipping = [...entries(1, 1, 1), ...entries(3, 3, 1)];
    assert.throws(() => store.appendEntries(batch, 1n, skipping, 0), RaftLogGapError);
    assert.equal(store.appendEntries(batch, 1n, [], 8), 8);
  });

  it("limits reads by size but always returns at least one entry", async () => {
    const store = await openStore();
    await append(store, 1n, entries(1, 5, 1), 0);
    const oneSize = entrySizeBytes(entries(1, 1, 1)[0]!);
    assert.equal((await store.entries(1n, 1, 6, oneSize * 2)).length, 2);
    assert.equal((await store.entries(1n, 1, 6, 1)).length, 1);
    assert.equal((await store.entries(1n, 1, 6)).length, 5);
  });

  it("compacts a prefix for log GC and reports gaps below it", async () => {
    const store = await openStore();
    await append(store, 1n, entries(1, 10, 1), 0);
    const batch = new WriteBatch();
    store.deleteEntriesBefore(batch, 1n, 6);
    store.deleteEntriesBefore(batch, 1n, 3, 5);
    await store.engine.write(batch, { sync: true });
    assert.equal(await store.firstStoredIndex(1n), 6);
    assert.deepEqual(termsOf(await store.entries(1n, 6, 11)), termsOf(entries(6, 10, 1)));
    await assert.rejects(store.entries(1n, 5, 7), /gap at index 5: found 6/);
  });

  it("keeps regions apart and destroys one region's log and state only", async () => {
    const store = await openStore();
    await append(store, 1n, entries(1, 3, 1), 0);
    await append(store, 2n, entries(1, 4, 1), 0);
    const batch = new WriteBatch();
    store.putRaftState(batch, 1n, { hardState: { term: 1, vote: 1, commit: 3 }, lastIndex: 3 });
    store.putRaftState(batch, 2n, { hardState: { term: 1, vote: 2, commit: 4 }, lastIndex: 4 });
    await store.engine.write(batch, { sync: true });
    const destroy = new WriteBatch();
    store.destroyRegion(destroy, 1n);
    await store.engine.write(destroy, { sync: true });
    assert.equal(await store.raftState(1n), undefined);
    assert.equal(await store.firstStoredIndex(1n), undefined);
    assert.deepEqual(await store.raftState(2n), { hardState: { term: 1, vote: 2, commit: 4 }, lastIndex: 4 });
    assert.equal((await store.entries(2n, 1, 5)).length, 4);
  });

  it("deleteAllEntries keeps the raft state", async () => {
    const store = await openStore();
    await append(store, 1n, entries(1, 3, 1), 0);
    const batch = new WriteBatch();
    store.putRaftState(batch, 1n, { hardState: { term: 1, vote: 0, commit: 3 }, lastIndex: 3 });
    store.deleteAllEntries(batch, 1n);
    await store.engine.write(batch, { sync: true });
    assert.equal(await store.firstStoredIndex(1n), undefined);
    assert.equal((await store.raftState(1n))?.lastIndex, 3);
  });

  it("reloads entries and raft state after reopening", async () => {
    const directory = join(root, "reopen");
    const first = new RaftLogStore(await RaftEngine.open(directory));
    await append(first, 7n, entries(1, 20, 3), 0);
    const batch = new WriteBatch();
    first.putRaftState(batch, 7n, { hardState: { term: 3, vote: 2, commit: 15 }, lastIndex: 20 });
    first.deleteEntriesBefore(batch, 7n, 11);
    await first.engine.write(batch, { sync: true });
    await first.engine.close();

    const reopened = await openStore(directory);
    assert.deepEqual(await reopened.raftState(7n), {
      hardState: { term: 3, vote: 2, commit: 15 },
      lastIndex: 20,
    });
    assert.equal(await reopened.firstStoredIndex(7n), 11);
    assert.deepEqual(await reopened.entries(7n, 11, 21), entries(11, 20, 3));
  });
});
