import assert from "node:assert/strict";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { runWriterUntilKilled } from "#rocksdb/kill-test-harness";
import { bytes, text } from "../testing/bytes.ts";
import { temporaryDirectory } from "../testing/temporary-directory.ts";
import { KvEngine, rawGet, readApplyState } from "./kv-engine.ts";
import { RaftEngine } from "./raft-engine.ts";
import { RaftLogStore } from "./raft-log-store.ts";

const root = temporaryDirectory("engine-durability");
const ACKNOWLEDGEMENTS_BEFORE_KILL = 25;

describe("engine durability", () => {
  it("keeps every acknowledged raft append and apply, consistent with each other, after SIGKILL", async () => {
    const directory = join(root, "killed-store");
    const acknowledged = await runWriterUntilKilled({
      writer: new URL("../testing/engine-writer-process.ts", import.meta.url),
      directory,
      acknowledgementsBeforeKill: ACKNOWLEDGEMENTS_BEFORE_KILL,
    });
    const kvEngine = await KvEngine.open(directory);
    const raftEngine = await RaftEngine.open(directory);
    after(() => Promise.all([kvEngine.close(), raftEngine.close()]));
    const raftLogStore = new RaftLogStore(raftEngine);

    const raftState = await raftLogStore.raftState(1n);
    assert.ok(
      raftState && raftState.lastIndex >= acknowledged,
      `acknowledged ${acknowledged}, raft state ${raftState?.lastIndex}`,
    );
    const log = await raftLogStore.entries(1n, 1, raftState.lastIndex + 1);
    assert.equal(log.length, raftState.lastIndex);

    const applyState = await readApplyState(kvEngine.db, 1n);
    const applied = Number(applyState?.appliedIndex ?? 0n);
    assert.ok(applied >= acknowledged, `acknowledged ${acknowledged}, applied ${applied}`);
    // Applied entries are always in the synced log, and the data they wrote is there with them.
    assert.ok(applied <= raftState.lastIndex);
    for (let index = 1; index <= applied; index++) {
      assert.equal(text(await rawGet(kvEngine.db, bytes(`key-${index}`))), `value-${index}`);
    }
    assert.equal(await rawGet(kvEngine.db, bytes(`key-${applied + 1}`)), undefined);
  });
});
