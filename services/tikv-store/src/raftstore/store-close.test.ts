/**
 * Closing a store whose background tasks wait on proposals that will never commit: the store fails its
 * proposals before it waits for its tasks, so close ends instead of waiting for a commit that cannot come.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { sleep } from "#runtime";
import { bytes } from "../testing/bytes.ts";
import { StoreCluster } from "../testing/cluster/store-cluster.ts";
import { ServerIsBusyError } from "./region-errors.ts";

/** Far above a close's few milliseconds, far below the 10 s after which the cut-off leader steps down. */
const CLOSE_DEADLINE_MS = 5_000;

test("a leader cut off with log compactions in flight closes at once, failing what waits", async () => {
  const cluster = await StoreCluster.start({
    label: "close with compactions in flight",
    stores: 3,
    // Long elections: the cut-off leader keeps leading (and its proposals keep waiting) through the test.
    raftstore: { electionTicks: 100, raftLogGcTickMs: 20, raftLogGcThreshold: 1_000, raftLogGcCountLimit: 8 },
  });
  try {
    for (let index = 0; index < 3; index++) await cluster.put(`before-${index}`, "v");
    const leader = await cluster.waitLeaderOf(bytes("k"));
    cluster.isolate(leader.index);
    // Entries that cannot commit push the log over its count limit: the next log GC tick proposes a
    // compaction up to the applied index, in a background task waiting for a commit that cannot come.
    const writes = Promise.allSettled(
      Array.from({ length: 10 }, (_, index) =>
        leader.store.write(leader.context, [
          { type: "put", key: bytes(`stuck-${index}`), value: bytes("v") },
        ]),
      ),
    );
    await cluster.waitFor(
      "a log compaction to wait in the background",
      () => leader.store.backgroundTasks > 0,
    );
    await sleep(100);
    const closed = leader.store.close().then(() => "closed" as const);
    const outcome = await Promise.race([
      closed,
      sleep(CLOSE_DEADLINE_MS).then(() => "still closing" as const),
    ]);
    assert.equal(outcome, "closed");
    assert.equal(leader.store.backgroundTasks, 0);
    for (const result of await writes) {
      assert.equal(result.status, "rejected");
      assert.ok(result.status === "rejected" && result.reason instanceof ServerIsBusyError, String(result));
    }
  } finally {
    cluster.heal();
    await cluster.close();
  }
});
