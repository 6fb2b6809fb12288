import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ID_NEXT_KEY } from "../storage/index.ts";
import { MemoryPdGroup, testMember } from "../testing/memory-backend.ts";
import { IdAllocator, IdAllocatorNotServingError } from "./id-allocator.ts";

function twoMembers() {
  const group = new MemoryPdGroup();
  const a = group.join(testMember("pd-a", 1n));
  const b = group.join(testMember("pd-b", 2n));
  group.electSilently(1n);
  return { group, a, b };
}

function storedBlockEnd(group: MemoryPdGroup): bigint {
  return BigInt(new TextDecoder().decode(group.read(ID_NEXT_KEY)));
}

describe("IdAllocator", () => {
  it("hands out ids from persisted blocks, writing once per block", async () => {
    const { group, a } = twoMembers();
    const allocator = new IdAllocator({ storage: a.storage, blockSize: 10 });
    await allocator.start();
    const ids: bigint[] = [];
    for (let index = 0; index < 25; index++) {
      ids.push(await allocator.allocate());
      assert.ok(ids.at(-1)! <= storedBlockEnd(group), "an id was handed out before its block was persisted");
    }
    assert.deepEqual(
      ids,
      Array.from({ length: 25 }, (_, index) => BigInt(index + 1)),
    );
    assert.equal(storedBlockEnd(group), 30n);
    assert.equal(group.writeCount, 3);
  });

  it("concurrent callers share block reservations and never get the same id", async () => {
    const { a } = twoMembers();
    const allocator = new IdAllocator({ storage: a.storage, blockSize: 7 });
    await allocator.start();
    const batches = await Promise.all(
      Array.from({ length: 50 }, (_, index) =>
        index % 2 === 0 ? allocator.allocateMany(3) : allocator.allocate().then((id) => [id]),
      ),
    );
    const all = batches.flat();
    assert.equal(new Set(all).size, all.length);
    assert.equal(all.length, 25 * 3 + 25);
  });

  it("never repeats an id after a restart or a leader change", async () => {
    const { group, a, b } = twoMembers();
    const seen = new Set<bigint>();
    const take = async (allocator: IdAllocator, count: number) => {
      for (const id of await allocator.allocateMany(count)) {
        assert.ok(!seen.has(id), `id ${id} handed out twice`);
        seen.add(id);
      }
    };
    const first = new IdAllocator({ storage: a.storage, blockSize: 100 });
    await first.start();
    await take(first, 5);
    const restarted = new IdAllocator({ storage: a.storage, blockSize: 100 });
    await restarted.start();
    await take(restarted, 150);
    group.electSilently(2n);
    const successor = new IdAllocator({ storage: b.storage, blockSize: 100 });
    await successor.start();
    await take(successor, 10);
    // The deposed leader may finish its current block from memory but cannot reserve another one.
    await assert.rejects(restarted.allocateMany(100));
    assert.equal(seen.size, 165);
  });

  it("refuses to allocate when stopped", async () => {
    const { a } = twoMembers();
    const allocator = new IdAllocator({ storage: a.storage });
    await assert.rejects(allocator.allocate(), IdAllocatorNotServingError);
    await allocator.start();
    await allocator.allocate();
    allocator.stop();
    await assert.rejects(allocator.allocate(), IdAllocatorNotServingError);
  });
});
