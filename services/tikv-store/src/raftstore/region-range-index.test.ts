import assert from "node:assert/strict";
import { test } from "node:test";
import { metapb } from "#proto";
import { RangeIndexInvariantError, RegionRangeIndex } from "./region-range-index.ts";

const region = (id: bigint, start: string, end: string): metapb.Region =>
  metapb.Region.fromPartial({ id, startKey: Buffer.from(start), endKey: Buffer.from(end) });

test("regions are found by overlap and siblings follow without gaps", () => {
  const index = new RegionRangeIndex();
  index.replace([], [region(2n, "m", "t"), region(1n, "", "m"), region(3n, "t", "")]);
  assert.deepEqual(
    index.overlapping(Buffer.from("a"), Buffer.from("b")).map((r) => r.id),
    [1n],
  );
  assert.deepEqual(
    index.overlapping(Buffer.from("l"), Buffer.from("u")).map((r) => r.id),
    [1n, 2n, 3n],
  );
  assert.deepEqual(
    index.overlapping(Buffer.from("m"), Buffer.from("t")).map((r) => r.id),
    [2n],
  );
  assert.deepEqual(
    index.overlapping(Buffer.from("x"), new Uint8Array(0)).map((r) => r.id),
    [3n],
  );
  assert.deepEqual(
    index.rightSiblings(region(1n, "", "m"), 5).map((r) => r.id),
    [2n, 3n],
  );
  assert.deepEqual(
    index.rightSiblings(region(1n, "", "m"), 1).map((r) => r.id),
    [2n],
  );
});

test("an overlapping insert breaks the invariant; replace swaps ranges", () => {
  const index = new RegionRangeIndex();
  index.replace([], [region(1n, "", "")]);
  assert.throws(() => index.replace([], [region(2n, "m", "")]), RangeIndexInvariantError);
  index.replace([region(1n, "", "")], [region(1n, "", "m"), region(2n, "m", "")]);
  assert.equal(index.size, 2);
  index.removeById(2n);
  assert.deepEqual(
    index.overlapping(new Uint8Array(0), new Uint8Array(0)).map((r) => r.id),
    [1n],
  );
});
