import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { errorpb, metapb } from "#proto";
import {
  EpochNotMatchError,
  KeyNotInRegionError,
  MismatchPeerIdError,
  NotLeaderError,
  RaftEntryTooLargeError,
  ReadIndexNotReadyError,
  RegionNotFoundError,
  RegionNotInitializedError,
  ServerIsBusyError,
  StaleCommandError,
  StoreNotMatchError,
} from "../raftstore/region-errors.ts";
import { describeFailure, toRegionErrorProto } from "./region-errors.ts";

const bytes = (text: string) => new TextEncoder().encode(text);
const leader = metapb.Peer.fromPartial({ id: 12n, storeId: 2n });
const region = (id: bigint, startKey: string, endKey: string) =>
  metapb.Region.fromPartial({
    id,
    startKey: bytes(startKey),
    endKey: bytes(endKey),
    regionEpoch: { confVer: 3n, version: 5n },
  });

/** Each typed field set, every other field unset, and the message always present. */
function expectOnly(error: unknown, field: keyof errorpb.Error, value: unknown): void {
  const proto = toRegionErrorProto(error);
  assert.ok(proto !== undefined, "not mapped to a region error");
  assert.equal(proto.message, (error as Error).message);
  assert.ok(proto.message.length > 0);
  assert.deepEqual(proto[field], value);
  const setFields = Object.entries(proto).filter(([name, set]) => name !== "message" && set !== undefined);
  assert.deepEqual(
    setFields.map(([name]) => name),
    [field],
  );
  // Survives the wire.
  assert.deepEqual(errorpb.Error.decode(errorpb.Error.encode(proto).finish()), proto);
}

describe("region error mapping", () => {
  test("NotLeader carries the leader hint, or none when unknown", () => {
    expectOnly(new NotLeaderError(7n, leader), "notLeader", { regionId: 7n, leader });
    expectOnly(new NotLeaderError(7n, undefined), "notLeader", { regionId: 7n, leader: undefined });
  });

  test("EpochNotMatch carries the current regions", () => {
    const current = [region(7n, "", "m"), region(8n, "m", "")];
    expectOnly(new EpochNotMatchError(7n, { confVer: 1n, version: 1n }, current), "epochNotMatch", {
      currentRegions: current,
    });
  });

  test("RegionNotFound, KeyNotInRegion with the region range, StoreNotMatch", () => {
    expectOnly(new RegionNotFoundError(9n), "regionNotFound", { regionId: 9n });
    expectOnly(new KeyNotInRegionError(bytes("z"), 9n, bytes("a"), bytes("m")), "keyNotInRegion", {
      key: bytes("z"),
      regionId: 9n,
      startKey: bytes("a"),
      endKey: bytes("m"),
    });
    expectOnly(new StoreNotMatchError(3n, 1n), "storeNotMatch", { requestStoreId: 3n, actualStoreId: 1n });
  });

  test("ServerIsBusy carries its backoff in whole milliseconds", () => {
    expectOnly(new ServerIsBusyError("mailbox of region 4 is full", 19.2), "serverIsBusy", {
      reason: "mailbox of region 4 is full",
      backoffMs: 20n,
    });
  });

  test("StaleCommand, RaftEntryTooLarge and the remaining kinds", () => {
    expectOnly(new StaleCommandError(4n, "term changed"), "staleCommand", {});
    expectOnly(new RaftEntryTooLargeError(4n, 9_000_000, 8_388_608), "raftEntryTooLarge", {
      regionId: 4n,
      entrySize: 9_000_000n,
    });
    expectOnly(new RegionNotInitializedError(4n), "regionNotInitialized", { regionId: 4n });
    expectOnly(new MismatchPeerIdError(4n, 40n, 41n), "mismatchPeerId", {
      requestPeerId: 40n,
      storePeerId: 41n,
    });
    expectOnly(new ReadIndexNotReadyError(4n, "no quorum"), "readIndexNotReady", {
      reason: "no quorum",
      regionId: 4n,
    });
  });

  test("anything else is not a region error and is described as a message", () => {
    assert.equal(toRegionErrorProto(new Error("disk full")), undefined);
    assert.equal(toRegionErrorProto("a string"), undefined);
    assert.equal(describeFailure(new Error("disk full")), "disk full");
    assert.equal(describeFailure(42), "42");
  });
});
