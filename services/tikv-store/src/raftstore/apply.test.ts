import assert from "node:assert/strict";
import { test } from "node:test";
import { appendTs, encodeBytes } from "#codec";
import { metapb, raft_cmdpb } from "#proto";
import { type Entry, EntryType, encodeConfChange } from "#raft";
import { WriteBatch } from "#rocksdb";
import { ApplyInvariantError, type ApplyState, ApplyTurn, applyEntries } from "./apply.ts";
import { overlayKey } from "./apply-overlay.ts";
import {
  casRequests,
  changePeerConfChange,
  changePeerRequest,
  decodeEntry,
  encodeCommand,
  InvalidCommandError,
  type PeerChange,
  writeRequests,
} from "./raft-command.ts";
import { EpochNotMatchError, KeyNotInRegionError } from "./region-errors.ts";

const text = (value: string): Uint8Array => new TextEncoder().encode(value);

const REGION = metapb.Region.fromPartial({
  id: 1n,
  startKey: text("b"),
  endKey: text("y"),
  regionEpoch: { confVer: 3n, version: 2n },
  peers: [
    { id: 11n, storeId: 1n },
    { id: 12n, storeId: 2n },
  ],
});

function state(region = REGION): ApplyState {
  return {
    region,
    appliedIndex: 10,
    appliedTerm: 2,
    truncatedIndex: 5,
    truncatedTerm: 1,
    writtenBytes: 0,
    writtenKeys: 0,
  };
}

function turn(
  casReads = new Map<string, Uint8Array | undefined>(),
  tombstoned = new Set<bigint>(),
): ApplyTurn {
  return new ApplyTurn(new WriteBatch(), casReads, {
    currentRegions: (region) => [region],
    isTombstoned: (regionId) => tombstoned.has(regionId),
  });
}

function command(
  body: Partial<raft_cmdpb.RaftCmdRequest>,
  epoch: metapb.RegionEpoch | undefined = REGION.regionEpoch,
): raft_cmdpb.RaftCmdRequest {
  return {
    header: { regionId: 1n, peer: REGION.peers[0], regionEpoch: epoch, term: 2n, proposalId: 77n },
    requests: [],
    adminRequest: undefined,
    ...body,
  };
}

function normalEntry(index: number, request: raft_cmdpb.RaftCmdRequest): Entry {
  return { index, term: 2, type: EntryType.Normal, data: encodeCommand(request) };
}

function confChangeEntry(index: number, change: PeerChange, epoch = REGION.regionEpoch): Entry {
  const request = command({ adminRequest: changePeerRequest(change) }, epoch);
  return {
    index,
    term: 2,
    type: EntryType.ConfChange,
    data: encodeConfChange(changePeerConfChange(change, encodeCommand(request))),
  };
}

const decode = (entries: Entry[]) => entries.map((entry) => decodeEntry(1n, entry));

test("writes apply in order with the apply state in the same batch", () => {
  const applyTurn = turn();
  const applying = state();
  const applied = applyEntries(
    applyTurn,
    applying,
    decode([
      normalEntry(
        11,
        command({ requests: writeRequests([{ type: "put", key: text("c"), value: text("1") }]) }),
      ),
      { index: 12, term: 2, type: EntryType.Normal, data: new Uint8Array(0) },
      normalEntry(13, command({ requests: writeRequests([{ type: "delete", key: text("c") }]) })),
    ]),
    () => 2,
  );
  assert.deepEqual(
    applied.map((entry) => [entry.index, entry.outcome.ok, entry.proposalId]),
    [
      [11, true, 77n],
      [12, true, undefined],
      [13, true, 77n],
    ],
  );
  assert.equal(applying.appliedIndex, 13);
  const kinds = applyTurn.batch.operations.map((operation) => `${operation.kind}:${operation.columnFamily}`);
  assert.deepEqual(kinds, ["put:default", "delete:default", "put:raft"]);
  assert.equal(applying.writtenKeys, 1);
});

test("a command from an older epoch or for a key outside the region writes nothing", () => {
  const applyTurn = turn();
  const applied = applyEntries(
    applyTurn,
    state(),
    decode([
      normalEntry(
        11,
        command(
          { requests: writeRequests([{ type: "put", key: text("c"), value: text("1") }]) },
          { confVer: 3n, version: 1n },
        ),
      ),
      normalEntry(
        12,
        command({ requests: writeRequests([{ type: "put", key: text("z"), value: text("1") }]) }),
      ),
      // A membership change does not stale a data command.
      normalEntry(
        13,
        command(
          { requests: writeRequests([{ type: "put", key: text("c"), value: text("ok") }]) },
          { confVer: 1n, version: 2n },
        ),
      ),
    ]),
    () => 2,
  );
  const [stale, outside, fine] = applied.map((entry) => entry.outcome);
  assert.ok(!stale!.ok && stale!.error instanceof EpochNotMatchError);
  assert.ok(!outside!.ok && outside!.error instanceof KeyNotInRegionError);
  assert.ok(fine!.ok);
  assert.equal(
    applyTurn.batch.operations.filter((operation) => operation.columnFamily === "default").length,
    1,
  );
});

test("transactional writes land in their column family under the txn prefix; malformed or outside keys write nothing", () => {
  const applyTurn = turn();
  const mvccKey = (key: string) => appendTs(encodeBytes(text(key)), 5n);
  const txnPut = (key: Uint8Array, cf = raft_cmdpb.TxnColumnFamily.WRITE): raft_cmdpb.Request => ({
    cmd: { $case: "txnPut", value: { cf, key, value: text("record") } },
  });
  const applied = applyEntries(
    applyTurn,
    state(),
    decode([
      normalEntry(
        11,
        command({
          requests: [txnPut(mvccKey("c")), txnPut(encodeBytes(text("d")), raft_cmdpb.TxnColumnFamily.LOCK)],
        }),
      ),
      normalEntry(12, command({ requests: [txnPut(mvccKey("z"))] })),
      normalEntry(13, command({ requests: [txnPut(text("not an mvcc key"))] })),
      normalEntry(14, command({ requests: [txnPut(mvccKey("c"), 7 as raft_cmdpb.TxnColumnFamily)] })),
    ]),
    () => 2,
  );
  const [fine, outside, malformed, unknownFamily] = applied.map((entry) => entry.outcome);
  assert.ok(fine!.ok);
  assert.ok(!outside!.ok && outside!.error instanceof KeyNotInRegionError);
  assert.ok(!malformed!.ok && malformed!.error instanceof InvalidCommandError);
  assert.ok(!unknownFamily!.ok && unknownFamily!.error instanceof InvalidCommandError);
  const data = applyTurn.batch.operations.filter((operation) => operation.columnFamily !== "raft");
  assert.deepEqual(
    data.map((operation) => operation.columnFamily),
    ["write", "lock"],
  );
  for (const operation of data) {
    assert.ok(operation.kind === "put" && Buffer.from(operation.key).subarray(0, 2).toString() === "zx");
  }
});

test("compare-and-swap reads the stored value, then the batch's own earlier writes", () => {
  const reads = new Map([[overlayKey(text("k")), text("old")]]);
  const applyTurn = turn(reads);
  const cas = (previous: string | undefined, value: string) =>
    command({
      requests: casRequests({
        key: text("k"),
        value: text(value),
        previousValue: previous === undefined ? undefined : text(previous),
      }),
    });
  const applied = applyEntries(
    applyTurn,
    state(),
    decode([
      normalEntry(11, cas("old", "new")),
      normalEntry(12, cas("old", "again")),
      normalEntry(13, cas(undefined, "x")),
    ]),
    () => 2,
  );
  const results = applied.map((entry) => {
    assert.ok(entry.outcome.ok);
    const response = entry.outcome.response.responses[0]!.cmd;
    assert.equal(response?.$case, "compareAndSwap");
    return [response.value.succeed, Buffer.from(response.value.previousValue).toString()];
  });
  assert.deepEqual(results, [
    [true, "old"],
    [false, "new"],
    [false, "new"],
  ]);
  assert.throws(
    () => applyEntries(turn(), state(), decode([normalEntry(11, cas("old", "new"))]), () => 2),
    ApplyInvariantError,
    "a CAS key must be read before the batch",
  );
});

test("conf changes bump conf_ver once; a replay of an applied change is skipped", () => {
  const applying = state();
  const learner = { id: 13n, storeId: 3n, role: metapb.PeerRole.LEARNER };
  const add = applyEntries(
    turn(),
    applying,
    decode([confChangeEntry(11, { type: "add-learner", peer: learner })]),
    () => 2,
  );
  assert.equal(add[0]!.effect?.kind, "conf-change");
  assert.equal(applying.region.regionEpoch?.confVer, 4n);
  assert.equal(applying.region.peers.find((peer) => peer.id === 13n)?.role, metapb.PeerRole.LEARNER);

  const replay = applyEntries(
    turn(),
    applying,
    decode([confChangeEntry(12, { type: "add-learner", peer: learner }, applying.region.regionEpoch)]),
    () => 2,
  );
  assert.equal(replay[0]!.effect, undefined);
  assert.ok(replay[0]!.outcome.ok);
  assert.equal(applying.region.regionEpoch?.confVer, 4n);

  const promote = applyEntries(
    turn(),
    applying,
    decode([
      confChangeEntry(
        13,
        { type: "promote", peer: { ...learner, role: metapb.PeerRole.VOTER } },
        applying.region.regionEpoch,
      ),
    ]),
    () => 2,
  );
  assert.equal(promote[0]!.effect?.kind, "conf-change");
  assert.equal(applying.region.peers.find((peer) => peer.id === 13n)?.role, metapb.PeerRole.VOTER);
  const stale = applyEntries(
    turn(),
    applying,
    decode([confChangeEntry(14, { type: "remove", peer: learner })]),
    () => 2,
  );
  assert.ok(!stale[0]!.outcome.ok && stale[0]!.outcome.error instanceof EpochNotMatchError);
  assert.equal(applying.region.peers.length, 3);
  const remove = applyEntries(
    turn(),
    applying,
    decode([confChangeEntry(15, { type: "remove", peer: learner }, applying.region.regionEpoch)]),
    () => 2,
  );
  assert.equal(remove[0]!.effect?.kind, "conf-change");
  assert.deepEqual(
    applying.region.peers.map((peer) => peer.id),
    [11n, 12n],
  );
  assert.equal(applying.region.regionEpoch?.confVer, 6n);
});

test("a batch split shrinks the parent, creates the new regions, and bumps every version", () => {
  const applying = state();
  const split = command({
    adminRequest: {
      cmd: {
        $case: "batchSplit",
        value: {
          requests: [
            { splitKey: text("h"), newRegionId: 2n, newPeerIds: [21n, 22n] },
            { splitKey: text("p"), newRegionId: 3n, newPeerIds: [31n, 32n] },
          ],
        },
      },
    },
  });
  const applyTurn = turn(new Map(), new Set([3n]));
  const [applied] = applyEntries(applyTurn, applying, decode([normalEntry(11, split)]), () => 2);
  assert.equal(applied!.effect?.kind, "split");
  if (applied!.effect?.kind !== "split") return;
  const [parent, second, third] = applied!.effect.regions;
  assert.equal(Buffer.from(parent!.endKey).toString(), "h");
  assert.equal(Buffer.from(second!.startKey).toString(), "h");
  assert.equal(Buffer.from(second!.endKey).toString(), "p");
  assert.equal(Buffer.from(third!.endKey).toString(), "y");
  for (const region of applied!.effect.regions) assert.equal(region.regionEpoch?.version, 4n);
  assert.deepEqual(
    second!.peers.map((peer) => [peer.id, peer.storeId]),
    [
      [21n, 1n],
      [22n, 2n],
    ],
  );
  // Region 3's peer here was removed before the split arrived: it is not created.
  assert.deepEqual(
    applied!.effect.created.map((region) => region.id),
    [2n],
  );
  assert.equal(applying.region, parent);

  const bad = command(
    {
      adminRequest: {
        cmd: {
          $case: "batchSplit",
          value: { requests: [{ splitKey: text("a"), newRegionId: 4n, newPeerIds: [41n, 42n] }] },
        },
      },
    },
    parent!.regionEpoch,
  );
  const [refused] = applyEntries(turn(), applying, decode([normalEntry(12, bad)]), () => 2);
  assert.ok(!refused!.outcome.ok);
  const error = refused!.outcome.error;
  assert.ok(error instanceof InvalidCommandError, String(error));
  assert.deepEqual([error.regionId, error.index], [1n, 12]);
  assert.match(error.message, /invalid split/);
  assert.equal(applying.region, parent);
});

test("log GC moves the truncated state, asks for a synced batch, and ignores older requests", () => {
  const applying = state();
  const compact = (index: bigint) =>
    command({
      adminRequest: { cmd: { $case: "compactLog", value: { compactIndex: index, compactTerm: 2n } } },
    });
  const applyTurn = turn();
  const [applied] = applyEntries(applyTurn, applying, decode([normalEntry(11, compact(9n))]), (index) =>
    index === 9 ? 2 : 0,
  );
  assert.deepEqual(applied!.effect, { kind: "compact-log", compactIndex: 9, compactTerm: 2 });
  assert.equal(applying.truncatedIndex, 9);
  assert.ok(applyTurn.syncRequired);
  const [older] = applyEntries(turn(), applying, decode([normalEntry(12, compact(7n))]), () => 2);
  assert.equal(older!.effect, undefined);
  assert.equal(applying.truncatedIndex, 9);
});

test("entries must apply without gaps", () => {
  assert.throws(
    () =>
      applyEntries(
        turn(),
        state(),
        decode([{ index: 12, term: 2, type: EntryType.Normal, data: new Uint8Array(0) }]),
        () => 2,
      ),
    ApplyInvariantError,
  );
});
