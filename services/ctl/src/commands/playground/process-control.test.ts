import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import type { Member } from "./cluster-plan.ts";
import { ManagedChild } from "./managed-child.ts";
import { isOurProcess, isProcessAlive, stopProcess } from "./process-control.ts";

const directory = mkdtempSync(join(tmpdir(), "tessera-playground-process-"));
after(() => rmSync(directory, { recursive: true, force: true }));

/** A node process that prints "ready" once its SIGTERM behaviour is installed, then idles. */
function member(name: string, onSigterm: string, stopTimeoutMs: number): Member {
  const script = `process.on("SIGTERM", () => { ${onSigterm} }); console.log("ready"); setInterval(() => {}, 1000);`;
  return {
    role: "store",
    name,
    dataDir: join(directory, name),
    logPath: join(directory, `${name}.log`),
    command: process.execPath,
    args: ["-e", script, join(directory, name)],
    address: "127.0.0.1:1",
    statusUrl: "http://127.0.0.1:1",
    healthUrl: "http://127.0.0.1:1/health",
    stopTimeoutMs,
  };
}

async function startReady(spec: Member): Promise<ManagedChild> {
  const child = await ManagedChild.start(spec);
  for (let attempt = 0; attempt < 200 && !readFileSync(spec.logPath, "utf8").includes("ready"); attempt++) {
    await sleep(25);
  }
  return child;
}

describe("stopping members", () => {
  test("a member that exits on SIGTERM is stopped, and its exit status kept", async () => {
    const child = await startReady(member("graceful", "process.exit(0)", 10_000));
    assert.equal(await child.stop(), "stopped");
    assert.deepEqual(child.status, { code: 0, signal: null });
    assert.equal(isProcessAlive(child.pid), false);
  });

  test("a member that ignores SIGTERM is killed after its stop timeout", async () => {
    const child = await startReady(member("stubborn", "", 200));
    assert.equal(await child.stop(), "killed");
    assert.equal(child.status?.signal, "SIGKILL");
  });

  test("by pid: only a process whose command line carries the marker is signalled", async () => {
    const spec = member("by-pid", "process.exit(0)", 10_000);
    const child = await startReady(spec);
    try {
      assert.equal(isOurProcess(child.pid, spec.dataDir), true);
      assert.equal(await stopProcess(child.pid, "some other playground", 1_000), "not-running");
      assert.equal(child.status, undefined, "a process without the marker is left alone");
      assert.equal(await stopProcess(child.pid, spec.dataDir, 10_000), "stopped");
      await child.exited;
    } finally {
      await child.stop();
    }
  });
});
