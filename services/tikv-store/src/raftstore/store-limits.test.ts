/**
 * The store loop's bounds: work over a per-turn limit waits for the next turn instead of being lost or
 * starving other regions, and a region leader over its uncommitted-bytes bound answers ServerIsBusy
 * instead of growing its log in memory.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { bytes } from "../testing/bytes.ts";
import { StoreCluster } from "../testing/cluster/store-cluster.ts";
import { ServerIsBusyError } from "./region-errors.ts";

test("one region and one mailbox item per turn: every region still serves every write", async () => {
  const cluster = await StoreCluster.start({
    label: "one peer per turn",
    stores: 3,
    raftstore: { maxPeersPerTurn: 1, maxMessagesPerPeerPerTurn: 1, maxRaftWriteBatchBytes: 1 },
  });
  try {
    for (const key of ["g", "p"]) await cluster.split(bytes(key));
    const writes = ["a", "h", "q"].flatMap((prefix) =>
      Array.from({ length: 20 }, (_, index) => `${prefix}-${index}`),
    );
    await Promise.all(writes.map((key) => cluster.put(key, `value of ${key}`)));
    for (const key of writes) assert.equal(await cluster.get(key), `value of ${key}`);
    for (const index of cluster.indexes) {
      await cluster.waitFor(`store ${index} to apply every write`, async () => {
        for (const key of writes)
          if ((await cluster.localGet(index, key)) !== `value of ${key}`) return false;
        return true;
      });
    }
  } finally {
    await cluster.close();
  }
});

test("a leader that cannot commit answers ServerIsBusy once its uncommitted entries reach the bound", async () => {
  const cluster = await StoreCluster.start({
    label: "uncommitted bound",
    stores: 3,
    raftstore: { raftMaxUncommittedBytes: 4096 },
  });
  try {
    await cluster.put("warm", "up");
    const leader = await cluster.waitLeaderOf(bytes("k"));
    const healFollowers = cluster.partition([
      [leader.index],
      cluster.indexes.filter((i) => i !== leader.index),
    ]);
    try {
      const value = new Uint8Array(1024).fill(7);
      const outcomes = await Promise.allSettled(
        Array.from({ length: 16 }, (_, index) =>
          leader.store.write(leader.context, [{ type: "put", key: bytes(`k-${index}`), value }]),
        ),
      );
      const busy = outcomes.filter(
        (outcome) => outcome.status === "rejected" && outcome.reason instanceof ServerIsBusyError,
      );
      assert.ok(
        busy.length >= 16 - 4,
        `expected the writes beyond 4 KiB of uncommitted entries to be refused as busy: ${outcomes
          .map((outcome) => (outcome.status === "fulfilled" ? "ok" : String(outcome.reason?.name)))
          .join(", ")}`,
      );
    } finally {
      healFollowers();
    }
    await cluster.put("after", "healed");
    assert.equal(await cluster.get("after"), "healed");
  } finally {
    await cluster.close();
  }
});
