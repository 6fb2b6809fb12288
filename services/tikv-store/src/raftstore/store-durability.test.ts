/**
 * Raft log GC against crashes. Applied kv writes are not synced (the synced raft log replays them), so log
 * entries may be deleted only once a synced kv write holds an applied index at or above them; otherwise a
 * crash loses the unsynced applies AND the entries that would replay them. The store's engine writes are
 * recorded and the disk a crash right after each log deletion could leave is rebuilt (every unsynced kv
 * write lost), then a store opens on it and must serve every write it acknowledged before the crash.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { cp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { createLogger } from "#observability";
import { sleep } from "#runtime";
import { bytes, text } from "../testing/bytes.ts";
import { FakePd } from "../testing/cluster/fake-pd.ts";
import { StoreCluster } from "../testing/cluster/store-cluster.ts";
import { EngineWriteRecorder, type RecordedWrite } from "../testing/engine-write-recorder.ts";
import { RegionError } from "./region-errors.ts";
import { findPeerOnStore } from "./region-meta.ts";
import { Store } from "./store.ts";

const scratch = mkdtempSync(join(tmpdir(), "tessera-raftstore-durability-"));
after(() => rmSync(scratch, { recursive: true, force: true }));

const LOG_GC = { raftLogGcThreshold: 5, raftLogGcCountLimit: 20, raftLogGcTickMs: 20 };
const WRITES = 60;
const CRASH_POINTS = 3;

const deletesLogEntries = (write: RecordedWrite): boolean =>
  write.engine === "raft" && write.operations.some((operation) => operation.kind !== "put");

/** A linearizable read on the restarted store, once its recovered region has a leader again. */
async function readAfterRecovery(store: Store, regionId: bigint, key: string): Promise<string | undefined> {
  for (let attempt = 0; ; attempt++) {
    const region = store.region(regionId);
    assert.ok(region, "the region was recovered");
    const context = {
      regionId: region.id,
      regionEpoch: region.regionEpoch,
      peer: findPeerOnStore(region, store.storeId),
    };
    try {
      return text(
        await store.read(context, { kind: "keys", keys: [bytes(key)] }, (reader) => reader.get(bytes(key))),
      );
    } catch (error) {
      if (!(error instanceof RegionError) || attempt >= 1_000) throw error;
      await sleep(10);
    }
  }
}

test("raft log entries are deleted only once a synced kv write covers them", async () => {
  const cluster = await StoreCluster.start({ label: "log GC durability", stores: 1, raftstore: LOG_GC });
  const regionId = cluster.firstRegionId;
  let recorder: EngineWriteRecorder;
  const acknowledged: Array<{ readonly key: string; readonly writesBefore: number }> = [];
  try {
    await cluster.put("before", "0");
    await cluster.stop(0);
    const baseline = join(scratch, "baseline");
    await cp(cluster.dataDirectory(0), baseline, { recursive: true });
    const store = await cluster.restart(0);
    recorder = new EngineWriteRecorder(store.engines, baseline);
    for (let index = 0; index < WRITES; index++) {
      await cluster.put(`key-${index}`, `${index}`);
      acknowledged.push({ key: `key-${index}`, writesBefore: recorder.writes.length });
    }
    await cluster.waitFor("log GC to delete entries", () => recorder.writes.some(deletesLogEntries));
  } finally {
    await cluster.close();
  }

  const crashPoints = recorder.writes.flatMap((write, position) =>
    deletesLogEntries(write) ? [position] : [],
  );
  for (const position of crashPoints.slice(0, CRASH_POINTS)) {
    const directory = join(scratch, `crash-after-write-${position}`);
    await recorder.crashImage(position, directory);
    const fatalErrors: Error[] = [];
    const store = await Store.open({
      dataDirectory: directory,
      clusterId: 1n,
      storeId: cluster.storeId(0),
      transport: { send: () => undefined, sendSnapshot: async () => assert.fail("no other store") },
      pd: new FakePd(),
      logger: createLogger({ component: "tikv-store", level: "silent" }),
      config: cluster.raftstoreConfig,
      onFatal: (error) => fatalErrors.push(error),
    });
    try {
      assert.equal(await readAfterRecovery(store, regionId, "before"), "0");
      for (const { key, writesBefore } of acknowledged) {
        if (writesBefore > position + 1) break;
        assert.equal(
          await readAfterRecovery(store, regionId, key),
          key.slice("key-".length),
          `${key} after a crash`,
        );
      }
      assert.deepEqual(fatalErrors, []);
    } finally {
      await store.close();
    }
  }
  assert.ok(crashPoints.length > 0);
});
