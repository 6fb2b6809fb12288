import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { defaultRaftConfig, type RaftConfig } from "./config.ts";
import {
  InvalidConfChangeError,
  ProposalDroppedError,
  RaftUsageError,
  StepLocalMessageError,
} from "./errors.ts";
import { MemoryStorage } from "./memory-storage.ts";
import { RawNode } from "./raw-node.ts";
import type { Ready } from "./ready.ts";
import {
  ConfChangeType,
  type Entry,
  EntryType,
  type Message,
  MessageType,
  NO_ENTRIES,
  type NodeId,
  Role,
  type Snapshot,
} from "./types.ts";

const VOTERS = { voters: [1, 2, 3], learners: [] };

function bootstrappedStorage(confState = VOTERS, index = 2): MemoryStorage {
  const storage = new MemoryStorage();
  storage.applySnapshot({ metadata: { index, term: 1, confState }, data: new Uint8Array() });
  return storage;
}

function config(id: NodeId, overrides: Partial<RaftConfig> = {}): RaftConfig {
  return { ...defaultRaftConfig(id, { intBelow: () => 0 }), preVote: false, ...overrides };
}

function message(fields: Partial<Message> & Pick<Message, "type" | "from" | "to">): Message {
  return {
    term: 0,
    logTerm: 0,
    index: 0,
    entries: NO_ENTRIES,
    commit: 0,
    reject: false,
    rejectHint: 0,
    ...fields,
  };
}

function entries(first: number, terms: readonly number[]): Entry[] {
  return terms.map((term, i) => ({
    index: first + i,
    term,
    type: EntryType.Normal,
    data: new Uint8Array([i]),
  }));
}

/** Persists a Ready into `storage` the way an application would. */
function persist(storage: MemoryStorage, ready: Ready): void {
  if (ready.snapshot !== undefined) storage.applySnapshot(ready.snapshot);
  storage.append(ready.entries);
  if (ready.hardState !== undefined) storage.setHardState(ready.hardState);
}

function handleSynchronously(node: RawNode, storage: MemoryStorage): Ready {
  const ready = node.ready();
  persist(storage, ready);
  node.onPersisted(ready.number);
  node.advance(ready);
  return ready;
}

const committedIndexes = (ready: Ready): number[] => ready.committedEntries.map((e) => e.index);

describe("RawNode", () => {
  it("rejects local message types from the network", () => {
    const node = new RawNode(config(1), bootstrappedStorage());
    for (const type of [MessageType.Hup, MessageType.Beat, MessageType.CheckQuorum, MessageType.SnapStatus]) {
      assert.throws(() => node.step(message({ type, from: 2, to: 1 })), StepLocalMessageError);
    }
  });

  it("numbers Readys and enforces ready/advance/onPersisted order", () => {
    const node = new RawNode(config(1), bootstrappedStorage());
    node.campaign();
    const first = node.ready();
    assert.equal(first.number, 1);
    assert.throws(() => node.ready(), RaftUsageError);
    assert.throws(() => node.onPersisted(2), RaftUsageError);
    node.advance(first);
    assert.throws(() => node.advance(first), RaftUsageError);
    assert.equal(node.hasReady(), false);
  });

  it("a single voter counts its vote and its log only once they are durable", () => {
    const storage = bootstrappedStorage({ voters: [1], learners: [] });
    const node = new RawNode(config(1), storage);
    node.campaign();
    const voteReady = node.ready();
    assert.deepEqual(voteReady.hardState, { term: 1, vote: 1, commit: 2 });
    assert.equal(voteReady.mustSync, true);
    node.advance(voteReady);
    assert.equal(node.status().softState.role, Role.Candidate);
    persist(storage, voteReady);
    node.onPersisted(voteReady.number);
    assert.equal(node.status().softState.role, Role.Leader);

    const appendReady = node.ready();
    assert.deepEqual(
      appendReady.entries.map((e) => e.index),
      [3],
    );
    assert.deepEqual(appendReady.committedEntries, []);
    node.advance(appendReady);
    assert.equal(node.hasReady(), false, "nothing commits before the entry is durable");
    persist(storage, appendReady);
    node.onPersisted(appendReady.number);
    const commitReady = handleSynchronously(node, storage);
    assert.deepEqual(committedIndexes(commitReady), [3]);
    assert.equal(node.status().applied, 3);
  });

  it("a follower answers only after persisting, and applies only durable entries", () => {
    const storage = bootstrappedStorage();
    const node = new RawNode(config(2), storage);
    node.step(
      message({
        type: MessageType.Append,
        from: 1,
        to: 2,
        term: 1,
        logTerm: 1,
        index: 2,
        commit: 4,
        entries: entries(3, [1, 1]),
      }),
    );
    const ready = node.ready();
    assert.deepEqual(ready.messages, []);
    assert.equal(ready.persistedMessages.length, 1);
    assert.equal(ready.persistedMessages[0]!.type, MessageType.AppendResponse);
    assert.equal(ready.persistedMessages[0]!.index, 4);
    assert.equal(ready.hardState?.commit, 4);
    assert.deepEqual(ready.committedEntries, [], "committed but not yet durable");
    node.advance(ready);
    persist(storage, ready);
    node.onPersisted(ready.number);
    assert.deepEqual(committedIndexes(handleSynchronously(node, storage)), [3, 4]);
  });

  it("counts as durable only the part of an older Ready that a later Ready did not overwrite", () => {
    const storage = bootstrappedStorage();
    const node = new RawNode(config(2), storage);
    node.step(
      message({
        type: MessageType.Append,
        from: 1,
        to: 2,
        term: 1,
        logTerm: 1,
        index: 2,
        entries: entries(3, [1, 1, 1]),
      }),
    );
    const first = node.ready();
    node.advance(first);
    // A new leader of term 2 overwrites indexes 4 and up and says index 4 is committed.
    node.step(
      message({
        type: MessageType.Append,
        from: 3,
        to: 2,
        term: 2,
        logTerm: 1,
        index: 3,
        commit: 4,
        entries: entries(4, [2]),
      }),
    );
    const second = node.ready();
    node.advance(second);
    assert.deepEqual(
      second.entries.map((e) => `${e.term}/${e.index}`),
      ["2/4"],
    );
    persist(storage, first);
    node.onPersisted(first.number);
    const afterFirst = node.ready();
    assert.deepEqual(committedIndexes(afterFirst), [3], "4 on disk is the overwritten entry");
    node.advance(afterFirst);
    persist(storage, second);
    node.onPersisted(second.number);
    const afterSecond = handleSynchronously(node, storage);
    assert.deepEqual(
      afterSecond.committedEntries.map((e) => `${e.term}/${e.index}`),
      ["2/4"],
    );
  });

  it("ignores a snapshot that is not newer than its commit index", () => {
    const storage = bootstrappedStorage();
    const node = new RawNode(config(2), storage);
    node.step(
      message({
        type: MessageType.Append,
        from: 1,
        to: 2,
        term: 1,
        logTerm: 1,
        index: 2,
        commit: 4,
        entries: entries(3, [1, 1]),
      }),
    );
    handleSynchronously(node, storage);
    const stale: Snapshot = { metadata: { index: 3, term: 1, confState: VOTERS }, data: new Uint8Array() };
    node.step(message({ type: MessageType.Snapshot, from: 1, to: 2, term: 1, snapshot: stale }));
    const ready = handleSynchronously(node, storage);
    assert.equal(ready.snapshot, undefined);
    assert.equal(ready.persistedMessages[0]!.type, MessageType.AppendResponse);
    assert.equal(ready.persistedMessages[0]!.index, 4);
  });

  it("ignores a snapshot whose configuration does not include it, and installs a newer one", () => {
    const storage = bootstrappedStorage();
    const node = new RawNode(config(2), storage);
    const foreign: Snapshot = {
      metadata: { index: 9, term: 1, confState: { voters: [1, 3], learners: [] } },
      data: new Uint8Array(),
    };
    node.step(message({ type: MessageType.Snapshot, from: 1, to: 2, term: 1, snapshot: foreign }));
    assert.equal(handleSynchronously(node, storage).snapshot, undefined);

    const fresh: Snapshot = {
      metadata: { index: 9, term: 1, confState: { voters: [1, 2, 3], learners: [4] } },
      data: new Uint8Array(),
    };
    node.step(message({ type: MessageType.Snapshot, from: 1, to: 2, term: 1, snapshot: fresh }));
    const ready = handleSynchronously(node, storage);
    assert.equal(ready.snapshot?.metadata.index, 9);
    assert.deepEqual(node.status().confState, { voters: [1, 2, 3], learners: [4] });
    assert.equal(node.status().applied, 9);
    assert.equal(storage.firstIndex(), 10);
  });

  it("restarts from storage without handing out applied entries again", () => {
    const storage = bootstrappedStorage();
    storage.append(entries(3, [1, 1, 1]));
    storage.setHardState({ term: 1, vote: 1, commit: 5 });
    const node = new RawNode(config(2, { appliedIndex: 4 }), storage);
    const status = node.status();
    assert.deepEqual(status.hardState, { term: 1, vote: 1, commit: 5 });
    assert.equal(status.applied, 4);
    assert.deepEqual(committedIndexes(node.ready()), [5]);
  });

  it("refuses a hard state whose commit index is past the log", () => {
    const storage = bootstrappedStorage();
    storage.setHardState({ term: 1, vote: 0, commit: 7 });
    assert.throws(() => new RawNode(config(1), storage), /hard state commit 7/);
  });

  it("drops proposals without a leader and forwards them to a known leader", () => {
    const node = new RawNode(config(2), bootstrappedStorage());
    assert.throws(() => node.propose(new Uint8Array([1])), ProposalDroppedError);
    node.step(message({ type: MessageType.Heartbeat, from: 1, to: 2, term: 1 }));
    node.propose(new Uint8Array([1]));
    const forwarded = node.ready().persistedMessages.find((m) => m.type === MessageType.Propose);
    assert.equal(forwarded?.to, 1);
    assert.equal(forwarded?.entries.length, 1);
  });

  it("refuses a second conf change until the first is applied, and impossible ones at once", () => {
    const storage = bootstrappedStorage({ voters: [1], learners: [] });
    const node = new RawNode(config(1), storage);
    node.campaign();
    for (let i = 0; i < 3; i++) handleSynchronously(node, storage);
    assert.equal(node.status().softState.role, Role.Leader);
    assert.throws(
      () => node.proposeConfChange({ type: ConfChangeType.RemoveNode, nodeId: 1 }),
      InvalidConfChangeError,
    );
    node.proposeConfChange({ type: ConfChangeType.AddLearnerNode, nodeId: 2 });
    assert.throws(
      () => node.proposeConfChange({ type: ConfChangeType.AddNode, nodeId: 2 }),
      ProposalDroppedError,
    );
    handleSynchronously(node, storage);
    const ready = node.ready();
    assert.equal(ready.committedEntries[0]?.type, EntryType.ConfChange);
    node.applyConfChange({ type: ConfChangeType.AddLearnerNode, nodeId: 2 });
    persist(storage, ready);
    node.onPersisted(ready.number);
    node.advance(ready);
    assert.throws(
      () => node.proposeConfChange({ type: ConfChangeType.AddLearnerNode, nodeId: 1 }),
      InvalidConfChangeError,
    );
    node.proposeConfChange({ type: ConfChangeType.AddNode, nodeId: 2 });
  });

  it("drops proposals over the uncommitted byte budget", () => {
    const storage = bootstrappedStorage({ voters: [1, 2], learners: [] });
    const node = new RawNode(config(1, { maxUncommittedEntriesBytes: 10 }), storage);
    node.campaign();
    handleSynchronously(node, storage);
    node.step(message({ type: MessageType.RequestVoteResponse, from: 2, to: 1, term: 1 }));
    handleSynchronously(node, storage);
    node.propose(new Uint8Array(8));
    assert.throws(() => node.propose(new Uint8Array(8)), ProposalDroppedError);
  });

  it("reports the lease left as status() does, from the acknowledged heartbeat round to expiry", () => {
    const storage = bootstrappedStorage();
    const node = new RawNode(config(1, { checkQuorum: true, leaseRead: true }), storage);
    const leaseLeft = (): number => {
      assert.equal(node.leaseRemainingTicks(), node.status().leaseRemainingTicks);
      return node.leaseRemainingTicks();
    };
    assert.equal(leaseLeft(), 0, "a follower holds no lease");
    node.campaign();
    handleSynchronously(node, storage);
    const term = node.status().hardState.term;
    node.step(message({ type: MessageType.RequestVoteResponse, from: 2, to: 1, term }));
    handleSynchronously(node, storage);
    assert.equal(node.status().softState.role, Role.Leader);
    assert.equal(leaseLeft(), 0, "no heartbeat round acknowledged yet");
    node.tick();
    node.tick();
    const heartbeat = handleSynchronously(node, storage).messages.find(
      (sent) => sent.type === MessageType.Heartbeat && sent.to === 2,
    );
    assert.ok(heartbeat !== undefined, "a heartbeat round after heartbeatTicks");
    node.step(message({ type: MessageType.HeartbeatResponse, from: 2, to: 1, term, index: heartbeat.index }));
    // The lease runs leaseTicks (electionTicks - 2 = 8) from the tick the acknowledged round was sent.
    assert.equal(leaseLeft(), 8);
    for (let tick = 0; tick < 3; tick++) node.tick();
    assert.equal(leaseLeft(), 5);
    for (let tick = 0; tick < 5; tick++) node.tick();
    assert.equal(leaseLeft(), 0, "expired");
  });

  it("bounds append messages by bytes and by the inflight window", () => {
    const storage = bootstrappedStorage({ voters: [1, 2], learners: [] });
    const node = new RawNode(config(1, { maxSizePerMessageBytes: 40, maxInflightMessages: 3 }), storage);
    node.campaign();
    handleSynchronously(node, storage);
    node.step(message({ type: MessageType.RequestVoteResponse, from: 2, to: 1, term: 1 }));
    handleSynchronously(node, storage);
    node.step(message({ type: MessageType.AppendResponse, from: 2, to: 1, term: 1, index: 3 }));
    handleSynchronously(node, storage);
    assert.equal(node.status().progress?.get(2)?.state, "replicate");
    for (let i = 0; i < 20; i++) node.propose(new Uint8Array(10));
    const appends = handleSynchronously(node, storage).messages.filter((m) => m.type === MessageType.Append);
    assert.equal(appends.length, 3, "the window holds three appends");
    for (const append of appends) assert.equal(append.entries.length, 1, "26 bytes each, 40 per message");
    assert.equal(node.status().progress?.get(2)?.paused, true);
    node.reportUnreachable(2);
    assert.equal(node.status().progress?.get(2)?.state, "probe");
  });
});
