import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { eraftpb, kvrpcpb, metapb, pdpb, raft_serverpb, tikvpb } from "./index.ts";

const maxUint64 = 2n ** 64n - 1n;
const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);

describe("raft_serverpb.RaftMessage", () => {
  test("round-trips entries, a snapshot and ids near 2^64-1", () => {
    const original = raft_serverpb.RaftMessage.create({
      regionId: maxUint64,
      fromPeer: { id: maxUint64 - 1n, storeId: 7n },
      toPeer: { id: 2n ** 63n, storeId: 8n, role: metapb.PeerRole.LEARNER },
      regionEpoch: { confVer: maxUint64, version: 3n },
      startKey: bytes("a"),
      endKey: bytes("z"),
      message: {
        msgType: eraftpb.MessageType.APPEND,
        to: 2n ** 63n,
        from: maxUint64 - 1n,
        term: maxUint64,
        logTerm: 41n,
        index: 2n ** 53n + 1n,
        commit: 99n,
        rejectHint: 0n,
        priority: -5n,
        entries: [
          { entryType: eraftpb.EntryType.NORMAL, term: 42n, index: 100n, data: bytes("put k v") },
          { entryType: eraftpb.EntryType.CONF_CHANGE, term: 42n, index: 101n, context: bytes("cc") },
        ],
        snapshot: {
          data: bytes("snapshot"),
          metadata: { index: 90n, term: 40n, confState: { voters: [1n, maxUint64], learners: [3n] } },
        },
      },
    });

    const decoded = raft_serverpb.RaftMessage.decode(raft_serverpb.RaftMessage.encode(original).finish());

    assert.deepEqual(decoded, original);
    assert.equal(decoded.message?.entries[1]?.entryType, eraftpb.EntryType.CONF_CHANGE);
    assert.equal(typeof decoded.regionId, "bigint");
  });

  test("keeps zero-valued enums as their meaningful defaults", () => {
    const decoded = metapb.Peer.decode(metapb.Peer.encode(metapb.Peer.create({ id: 1n })).finish());
    assert.equal(decoded.role, metapb.PeerRole.VOTER);
  });

  test("refuses to encode a uint64 that does not fit", () => {
    const tooLarge = raft_serverpb.RaftMessage.create({ regionId: maxUint64 + 1n });
    assert.throws(() => raft_serverpb.RaftMessage.encode(tooLarge), /too large/);
  });
});

describe("pdpb.RegionHeartbeatRequest", () => {
  test("round-trips region, leader, peer stats and traffic", () => {
    const peers = [
      { id: 11n, storeId: 1n, role: metapb.PeerRole.VOTER },
      { id: 12n, storeId: 2n, role: metapb.PeerRole.VOTER },
      { id: 13n, storeId: 3n, role: metapb.PeerRole.LEARNER },
    ];
    const original = pdpb.RegionHeartbeatRequest.create({
      header: { clusterId: maxUint64, senderId: 1n },
      region: {
        id: 10n,
        startKey: bytes("m"),
        endKey: new Uint8Array(0),
        regionEpoch: { confVer: 4n, version: 9n },
        peers,
      },
      leader: peers[0],
      downPeers: [{ peer: peers[2], downSeconds: 30n }],
      pendingPeers: [peers[1]],
      bytesWritten: 2n ** 40n,
      bytesRead: 1n,
      keysWritten: 3n,
      keysRead: 4n,
      approximateSize: 96n * 1024n * 1024n,
      approximateKeys: 960_000n,
      term: 17n,
      interval: { startTimestamp: 1_700_000_000n, endTimestamp: 1_700_000_010n },
    });

    const decoded = pdpb.RegionHeartbeatRequest.decode(pdpb.RegionHeartbeatRequest.encode(original).finish());

    assert.deepEqual(decoded, original);
  });
});

describe("tikvpb.BatchCommandsRequest", () => {
  test("round-trips commands of different oneof cases with their ids", () => {
    const original = tikvpb.BatchCommandsRequest.create({
      requests: [
        { cmd: { $case: "rawGet", value: { context: { regionId: 5n }, key: bytes("k1") } } },
        {
          cmd: {
            $case: "prewrite",
            value: {
              primaryLock: bytes("k1"),
              startTs: maxUint64 - 7n,
              lockTtlMs: 3000n,
              mutations: [{ op: kvrpcpb.Op.PUT, key: bytes("k1"), value: bytes("v1") }],
            },
          },
        },
        { cmd: { $case: "empty", value: { testId: 9n } } },
      ],
      requestIds: [1n, maxUint64, 3n],
    });

    const decoded = tikvpb.BatchCommandsRequest.decode(tikvpb.BatchCommandsRequest.encode(original).finish());

    assert.deepEqual(decoded, original);
    assert.deepEqual(
      decoded.requests.map((request) => request.cmd?.$case),
      ["rawGet", "prewrite", "empty"],
    );
  });
});
