import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { compareBytes } from "#codec";
import type { metapb } from "#proto";
import { emptyRegionInfo } from "./cluster-state.ts";
import type { RegionInfo } from "./cluster-view.ts";
import { RegionTree, StaleRegionError } from "./region-tree.ts";

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);

function region(id: bigint, start: string, end: string, version = 1n, confVer = 1n): RegionInfo {
  const meta: metapb.Region = {
    id,
    startKey: bytes(start),
    endKey: bytes(end),
    regionEpoch: { version, confVer },
    peers: [{ id: id * 100n, storeId: 1n, role: 0 }],
  };
  return emptyRegionInfo(meta);
}

function ids(regions: Iterable<RegionInfo>): bigint[] {
  return [...regions].map((info) => info.meta.id);
}

describe("RegionTree", () => {
  it("finds the region holding a key, with open ends at both sides of the key space", () => {
    const tree = new RegionTree();
    tree.update(region(1n, "", "g"));
    tree.update(region(2n, "g", "p"));
    tree.update(region(3n, "p", ""));
    assert.equal(tree.getByKey(bytes(""))?.meta.id, 1n);
    assert.equal(tree.getByKey(bytes("a"))?.meta.id, 1n);
    assert.equal(tree.getByKey(bytes("g"))?.meta.id, 2n);
    assert.equal(tree.getByKey(bytes("ozzz"))?.meta.id, 2n);
    assert.equal(tree.getByKey(bytes("p"))?.meta.id, 3n);
    assert.equal(tree.getByKey(Uint8Array.of(0xff, 0xff))?.meta.id, 3n);
    assert.equal(tree.getById(2n)?.meta.id, 2n);
    assert.deepEqual(ids(tree.all()), [1n, 2n, 3n]);
  });

  it("reports no region for a key in a gap", () => {
    const tree = new RegionTree();
    tree.update(region(1n, "b", "d"));
    assert.equal(tree.getByKey(bytes("a")), undefined);
    assert.equal(tree.getByKey(bytes("d")), undefined);
    assert.equal(tree.getByKey(bytes("c"))?.meta.id, 1n);
  });

  it("scans from the region containing the start key, bounded by end key and limit", () => {
    const tree = new RegionTree();
    for (const [id, start, end] of [
      [1n, "", "c"],
      [2n, "c", "f"],
      [3n, "f", "k"],
      [4n, "k", ""],
    ] as const) {
      tree.update(region(id, start, end));
    }
    assert.deepEqual(ids(tree.scan(bytes("d"), bytes(""), 0)), [2n, 3n, 4n]);
    assert.deepEqual(ids(tree.scan(bytes("d"), bytes("k"), 0)), [2n, 3n]);
    assert.deepEqual(ids(tree.scan(bytes(""), bytes(""), 2)), [1n, 2n]);
    assert.deepEqual(ids(tree.scan(bytes("f"), bytes("f1"), 10)), [3n]);
  });

  it("rejects a report whose epoch is older than the known one for the same region", () => {
    const tree = new RegionTree();
    tree.update(region(1n, "", "", 5n, 5n));
    assert.throws(() => tree.update(region(1n, "", "", 4n, 5n)), StaleRegionError);
    assert.throws(() => tree.update(region(1n, "", "", 5n, 4n)), StaleRegionError);
    assert.equal(tree.getById(1n)?.meta.regionEpoch?.version, 5n);
    tree.update(region(1n, "", "", 5n, 6n));
    assert.equal(tree.getById(1n)?.meta.regionEpoch?.confVer, 6n);
  });

  it("replaces the parent after a split and rejects the parent's late, pre-split report", () => {
    const tree = new RegionTree();
    tree.update(region(1n, "", "", 1n));
    // The split keeps id 1 for [m, +inf) and creates region 2 for [-inf, m), both at version 2.
    const update = tree.update(region(2n, "", "m", 2n));
    assert.deepEqual(ids(update.removed), [1n]);
    tree.update(region(1n, "m", "", 2n));
    assert.deepEqual(ids(tree.all()), [2n, 1n]);
    assert.throws(() => tree.update(region(3n, "a", "z", 1n)), StaleRegionError);
    assert.equal(tree.getByKey(bytes("b"))?.meta.id, 2n);
  });

  it("a merged region removes every region it covers", () => {
    const tree = new RegionTree();
    tree.update(region(1n, "", "c", 3n));
    tree.update(region(2n, "c", "f", 3n));
    tree.update(region(3n, "f", "", 3n));
    const update = tree.update(region(2n, "", "f", 4n));
    assert.deepEqual(ids(update.removed), [1n]);
    assert.equal(update.previous?.meta.id, 2n);
    assert.deepEqual(ids(tree.all()), [2n, 3n]);
    assert.equal(tree.getById(1n), undefined);
  });

  it("keeps regions sorted and non-overlapping under any sequence of updates (property)", () => {
    const keyArbitrary = fc.stringMatching(/^[a-e]{0,2}$/);
    const updateArbitrary = fc.record({
      id: fc.bigInt({ min: 1n, max: 8n }),
      start: keyArbitrary,
      end: keyArbitrary,
      version: fc.bigInt({ min: 1n, max: 5n }),
    });
    fc.assert(
      fc.property(fc.array(updateArbitrary, { maxLength: 40 }), (updates) => {
        const tree = new RegionTree();
        for (const { id, start, end, version } of updates) {
          if (end !== "" && start >= end) continue;
          try {
            tree.update(region(id, start, end, version));
          } catch (error) {
            if (!(error instanceof StaleRegionError)) throw error;
          }
        }
        const all = [...tree.all()];
        for (let index = 1; index < all.length; index++) {
          const before = all[index - 1]!.meta;
          const after = all[index]!.meta;
          assert.ok(before.endKey.length > 0, "only the last region may be unbounded");
          assert.ok(compareBytes(before.endKey, after.startKey) <= 0, "regions overlap");
        }
        for (const info of all) {
          assert.equal(tree.getById(info.meta.id), info);
          assert.equal(tree.getByKey(info.meta.startKey), info);
        }
        assert.equal(new Set(ids(all)).size, all.length);
      }),
    );
  });
});
