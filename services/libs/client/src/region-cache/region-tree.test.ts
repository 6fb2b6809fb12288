import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { compareBytes } from "#codec";
import { metapb } from "#proto";
import { CachedRegion } from "./cached-region.ts";
import { rangeContains } from "./key-location.ts";
import { RegionTree } from "./region-tree.ts";

// Keys of one byte from a small alphabet (0 = the empty key), so random ranges overlap often.
const ALPHABET = 12;

function bytes(value: number): Uint8Array {
  return value === 0 ? new Uint8Array() : Uint8Array.of(value);
}

function region(id: number, start: number, end: number): CachedRegion {
  const meta = metapb.Region.create({
    id: BigInt(id),
    startKey: bytes(start),
    endKey: bytes(end),
    regionEpoch: { confVer: 1n, version: 1n },
    peers: [{ id: 1n, storeId: 1n }],
  });
  return new CachedRegion(meta, [0], 0, Number.POSITIVE_INFINITY);
}

/** A range [start, end) with end 0 meaning unbounded. */
const ranges = fc
  .tuple(fc.integer({ min: 0, max: ALPHABET }), fc.integer({ min: 0, max: ALPHABET }))
  .filter(([start, end]) => end === 0 || start < end);

describe("RegionTree", () => {
  it("stays sorted and non-overlapping, keeps the latest insert for every key, and finds it", () => {
    fc.assert(
      fc.property(fc.array(ranges, { minLength: 1, maxLength: 40 }), (inserts) => {
        const tree = new RegionTree();
        // The model: for each single-byte key, the id of the last inserted region containing it.
        const owner = new Map<number, number>();
        inserts.forEach(([start, end], index) => {
          const entry = region(index + 1, start, end);
          const evicted = tree.insert(entry);
          for (const gone of evicted) {
            for (const [keyValue, id] of owner) if (id === Number(gone.meta.id)) owner.delete(keyValue);
          }
          for (let keyValue = 0; keyValue <= ALPHABET + 1; keyValue++) {
            if (rangeContains(entry.meta.startKey, entry.meta.endKey, bytes(keyValue)))
              owner.set(keyValue, index + 1);
          }
        });
        for (let keyValue = 0; keyValue <= ALPHABET + 1; keyValue++) {
          const found = tree.find(bytes(keyValue));
          assert.equal(found === undefined ? undefined : Number(found.meta.id), owner.get(keyValue));
        }
        assertSortedAndDisjoint(tree);
      }),
    );
  });

  it("finds the region holding the keys below an end key", () => {
    const tree = new RegionTree();
    for (const entry of [region(1, 0, 3), region(2, 3, 6), region(3, 8, 0)]) tree.insert(entry);
    const idByEnd = (end: number) => tree.findByEnd(bytes(end))?.meta.id;
    assert.equal(idByEnd(2), 1n);
    assert.equal(idByEnd(3), 1n, "an end key is exclusive, so the keys below 3 are in region 1");
    assert.equal(idByEnd(6), 2n);
    assert.equal(idByEnd(7), undefined, "a gap in the cache");
    assert.equal(idByEnd(9), 3n);
    assert.equal(idByEnd(0), 3n, "the empty end key means +infinity");
    assert.equal(tree.lastStartingBefore(bytes(8))?.meta.id, 2n);
  });

  it("removes only the exact entry", () => {
    const tree = new RegionTree();
    const first = region(1, 0, 3);
    tree.insert(first);
    assert.equal(tree.remove(region(1, 0, 3)), false);
    assert.equal(tree.remove(first), true);
    assert.equal(tree.size, 0);
  });
});

function assertSortedAndDisjoint(tree: RegionTree): void {
  const seen: CachedRegion[] = [];
  for (let keyValue = 0; keyValue <= ALPHABET + 1; keyValue++) {
    const found = tree.find(bytes(keyValue));
    if (found !== undefined && seen.at(-1) !== found) seen.push(found);
  }
  for (let index = 1; index < seen.length; index++) {
    const previousEnd = seen[index - 1]!.meta.endKey;
    assert.ok(previousEnd.length > 0 && compareBytes(previousEnd, seen[index]!.meta.startKey) <= 0);
  }
  // Every region [s, e) contains the probe key s, so a region the probes missed would be a lost entry.
  assert.equal(tree.size, seen.length);
}
