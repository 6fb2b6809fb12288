import assert from "node:assert/strict";
import { test } from "node:test";
import { errorpb, metapb } from "#proto";
import { REGION_ERROR_KINDS, type RegionErrorDetail } from "./region-error.ts";
import { regionErrorFromProto, regionErrorToProto } from "./region-error-proto.ts";

const bytes = (text: string) => new TextEncoder().encode(text);

const ONE_OF_EACH: readonly RegionErrorDetail[] = [
  { kind: "notLeader", regionId: 7n, leader: metapb.Peer.fromPartial({ id: 12n, storeId: 2n }) },
  { kind: "regionNotFound", regionId: 9n },
  { kind: "keyNotInRegion", key: bytes("z"), regionId: 9n, startKey: bytes("a"), endKey: bytes("m") },
  {
    kind: "epochNotMatch",
    currentRegions: [metapb.Region.fromPartial({ id: 7n, regionEpoch: { confVer: 1n, version: 2n } })],
  },
  { kind: "serverIsBusy", reason: "mailbox full", backoffMs: 20n },
  { kind: "staleCommand" },
  { kind: "storeNotMatch", requestStoreId: 3n, actualStoreId: 1n },
  { kind: "raftEntryTooLarge", regionId: 4n, entrySize: 9_000_000n },
  { kind: "regionNotInitialized", regionId: 4n },
  { kind: "mismatchPeerId", requestPeerId: 40n, storePeerId: 41n },
  { kind: "readIndexNotReady", regionId: 4n, reason: "no quorum" },
];

test("every kind is an errorpb field, listed once", () => {
  assert.deepEqual(
    [...REGION_ERROR_KINDS].sort(),
    Object.keys(errorpb.Error.fromPartial({}))
      .filter((field) => field !== "message")
      .sort(),
  );
  assert.deepEqual(ONE_OF_EACH.map((detail) => detail.kind).sort(), [...REGION_ERROR_KINDS].sort());
});

test("each kind survives the wire with its fields and only its field set", () => {
  for (const detail of ONE_OF_EACH) {
    const proto = regionErrorToProto(detail, `refused: ${detail.kind}`);
    const decoded = errorpb.Error.decode(errorpb.Error.encode(proto).finish());
    assert.equal(decoded.message, `refused: ${detail.kind}`);
    const set = Object.entries(decoded).filter(
      ([field, value]) => field !== "message" && value !== undefined,
    );
    assert.deepEqual(
      set.map(([field]) => field),
      [detail.kind],
    );
    assert.deepEqual(regionErrorFromProto(decoded), detail);
  }
});

test("an error with only a message has no kind", () => {
  assert.equal(regionErrorFromProto(errorpb.Error.fromPartial({ message: "disk full" })), undefined);
});
