import assert from "node:assert/strict";
import { fork } from "node:child_process";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { openRocksDb } from "./rocks-db.ts";
import { temporaryDirectory } from "./test-support.ts";
import { WriteBatch } from "./write-batch.ts";

const root = temporaryDirectory("rocksdb-durability");
const ACKNOWLEDGEMENTS_BEFORE_KILL = 30;
const CHILD_TIMEOUT_MS = 30_000;

/** Runs the writer child, SIGKILLs it on the Nth acknowledgement, returns the highest sequence acknowledged. */
async function runWriterUntilKilled(path: string): Promise<number> {
  const script = fileURLToPath(new URL("./testdata/sync-writer.ts", import.meta.url));
  const child = fork(script, [path], {
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
  let highest = -1;
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`writer made no progress: ${stderr}`)),
        CHILD_TIMEOUT_MS,
      );
      child.on("message", (message: { acknowledged: number }) => {
        highest = Math.max(highest, message.acknowledged);
        if (highest + 1 < ACKNOWLEDGEMENTS_BEFORE_KILL) return;
        // Killed right after an acknowledgement, while the next write is already under way.
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
    // The dead writer's lock on the database is released only once the process is gone.
    await exited;
  }
  return highest;
}

describe("RocksDb durability", () => {
  it("keeps every acknowledged synced batch, whole, after the writer is killed with SIGKILL", async () => {
    const path = join(root, "killed-writer");
    const highest = await runWriterUntilKilled(path);
    const db = await openRocksDb({ path, columnFamilies: ["raft", "kv"], createIfMissing: false });
    after(() => db.close());
    const raft = await db.scan("raft", { limit: 200_000 });
    const kv = await db.scan("kv", { limit: 200_000 });
    assert.ok(raft.length >= highest + 1, `acknowledged ${highest + 1} batches, found ${raft.length}`);
    // Atomic batches: both families hold exactly the same sequences, with no gaps.
    assert.equal(kv.length, raft.length);
    raft.forEach((entry, index) => {
      assert.equal(Buffer.from(entry.key).readUInt32BE(), index);
      assert.equal(Buffer.from(kv[index]!.key).readUInt32BE(), index);
    });
  });

  it("measures synced write batches per second (reported, not asserted)", async (context) => {
    const db = await openRocksDb({
      path: join(root, "measure"),
      columnFamilies: ["raft"],
      createIfMissing: true,
    });
    after(() => db.close());
    const value = Buffer.alloc(128, 1);
    for (const sync of [true, false]) {
      const batches = 300;
      const startedMs = performance.now();
      for (let sequence = 0; sequence < batches; sequence++) {
        const batch = new WriteBatch();
        for (let entry = 0; entry < 4; entry++)
          batch.put("raft", Buffer.from(`${sync}-${sequence}-${entry}`), value);
        await db.write(batch, { sync });
      }
      const perSecond = Math.round((batches * 1000) / (performance.now() - startedMs));
      context.diagnostic(`${sync ? "synced" : "unsynced"} 4-entry batches: ${perSecond}/s`);
    }
  });
});
