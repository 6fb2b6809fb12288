import assert from "node:assert/strict";
import { fork } from "node:child_process";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { KvEngine, rawGet, readApplyState } from "./kv-engine.ts";
import { RaftEngine } from "./raft-engine.ts";
import { RaftLogStore } from "./raft-log-store.ts";
import { asText, temporaryDirectory, text } from "./test-support.ts";

const root = temporaryDirectory("engine-durability");
const ACKNOWLEDGEMENTS_BEFORE_KILL = 25;
const CHILD_TIMEOUT_MS = 30_000;

/** Runs the writer child, SIGKILLs it on the Nth acknowledgement, returns the highest index acknowledged. */
async function runWriterUntilKilled(directory: string): Promise<number> {
  const script = fileURLToPath(new URL("./testdata/engine-writer.ts", import.meta.url));
  const child = fork(script, [directory], {
    execArgv: ["--import", "tsx"],
    stdio: ["ignore", "ignore", "pipe", "ipc"],
  });
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = new Promise<NodeJS.Signals | null>((resolve) =>
    child.on("exit", (_code, signal) => resolve(signal)),
  );
  let highest = 0;
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`writer made no progress: ${stderr}`)),
        CHILD_TIMEOUT_MS,
      );
      child.on("message", (message: { acknowledged: number }) => {
        highest = Math.max(highest, message.acknowledged);
        if (highest < ACKNOWLEDGEMENTS_BEFORE_KILL) return;
        // Killed right after an acknowledgement, while the next turn's writes are already under way.
        child.kill("SIGKILL");
        clearTimeout(timer);
        resolve();
      });
      void exited.then((signal) => {
        clearTimeout(timer);
        if (signal !== "SIGKILL") reject(new Error(`writer exited early: ${stderr}`));
      });
    });
  } finally {
    child.kill("SIGKILL");
    // The dead writer's RocksDB locks are released only once the process is gone.
    await exited;
  }
  return highest;
}

describe("engine durability", () => {
  it("keeps every acknowledged raft append and apply, consistent with each other, after SIGKILL", async () => {
    const directory = join(root, "killed-store");
    const acknowledged = await runWriterUntilKilled(directory);
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
      assert.equal(asText(await rawGet(kvEngine.db, text(`key-${index}`))), `value-${index}`);
    }
    assert.equal(await rawGet(kvEngine.db, text(`key-${applied + 1}`)), undefined);
  });
});
