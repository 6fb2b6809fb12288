// The local cluster as a user runs it, with real processes: `playground` in the foreground serves a
// put/get through the raw client and stops every member on SIGINT with exit code 0; a second start from
// the same data directory, detached, still has the data; `playground stop` then stops it. After each
// stop no member process is left.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { RawKvClient } from "#client";
import { isProcessAlive } from "../../services/ctl/src/commands/playground/process-control.ts";
import { type PlaygroundState, readState } from "../../services/ctl/src/commands/playground/state-file.ts";
import { REPOSITORY_ROOT } from "./support/repository.ts";

const dataDir = mkdtempSync(join(tmpdir(), "tessera-playground-"));
/** Start-up through tsx on a loaded 2-core machine; the launcher's own limit is 90 s. */
const START_TIMEOUT_MS = 120_000;
/** Members' shutdown deadlines (pd 30 s, playground stores 20 s) plus margins; a clean stop takes ~1 s. */
const STOP_TIMEOUT_MS = 90_000;
const KEY = new TextEncoder().encode("playground-test-key");
const VALUE = `written at ${new Date().toISOString()}`;

interface CtlProcess {
  readonly child: ChildProcess;
  readonly output: () => string;
  readonly exitCode: Promise<number | null>;
}

function startCtl(args: readonly string[]): CtlProcess {
  const child = spawn(process.execPath, ["--import", "tsx", "services/ctl/src/main.ts", ...args], {
    cwd: REPOSITORY_ROOT,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const chunks: string[] = [];
  child.stdout!.on("data", (chunk: Buffer) => chunks.push(chunk.toString()));
  child.stderr!.on("data", (chunk: Buffer) => chunks.push(chunk.toString()));
  const exitCode = new Promise<number | null>((resolve) => child.once("close", (code) => resolve(code)));
  return { child, output: () => chunks.join(""), exitCode };
}

async function exitCodeWithin(ctl: CtlProcess, timeoutMs: number, what: string): Promise<number | null> {
  const timer = new AbortController();
  const timeout = sleep(timeoutMs, "timeout" as const, { signal: timer.signal }).catch(
    () => "timeout" as const,
  );
  const outcome = await Promise.race([ctl.exitCode, timeout]);
  // A pending timer would keep the test process alive after the last test.
  timer.abort();
  assert.notEqual(
    outcome,
    "timeout",
    `${what} did not exit within ${timeoutMs} ms; output:\n${ctl.output()}`,
  );
  return outcome as number | null;
}

async function waitUntilReady(ctl: CtlProcess): Promise<PlaygroundState> {
  const deadline = performance.now() + START_TIMEOUT_MS;
  for (;;) {
    const state = readState(dataDir);
    if (state?.ready === true) return state;
    const exited = await Promise.race([ctl.exitCode.then(() => true), sleep(250, false)]);
    assert.equal(exited, false, `the playground exited before it was ready:\n${ctl.output()}`);
    assert.ok(performance.now() < deadline, `the playground was not ready in time:\n${ctl.output()}`);
  }
}

function memberPids(state: PlaygroundState): number[] {
  return state.members.map((member) => member.pid).filter((pid): pid is number => pid !== null);
}

async function assertServing(state: PlaygroundState): Promise<void> {
  assert.deepEqual(
    state.members.map((member) => member.name),
    ["pd-1", "store-1", "store-2", "store-3"],
  );
  for (const member of state.members) {
    const response = await fetch(`${member.httpUrl}/health`);
    assert.equal(response.status, 200, `${member.name} is healthy`);
  }
}

async function withClient<T>(state: PlaygroundState, use: (client: RawKvClient) => Promise<T>): Promise<T> {
  const pdEndpoints = state.members.filter((member) => member.role === "pd").map((member) => member.endpoint);
  const client = await RawKvClient.connect({ pdEndpoints });
  try {
    return await use(client);
  } finally {
    await client.close();
  }
}

async function getText(client: RawKvClient): Promise<string | undefined> {
  const value = await client.get(KEY);
  return value === undefined ? undefined : new TextDecoder().decode(value);
}

/** Whatever a failed test left running is stopped by pid, so no process outlives the test run. */
after(async () => {
  const state = readState(dataDir);
  for (const pid of [state?.launcherPid ?? null, ...(state === undefined ? [] : memberPids(state))]) {
    if (pid !== null && isProcessAlive(pid)) process.kill(pid, "SIGKILL");
  }
  rmSync(dataDir, { recursive: true, force: true });
});

describe("local cluster (npm start)", () => {
  test("serves a put and get in the foreground and stops every member on SIGINT with exit code 0", async () => {
    const launcher = startCtl(["playground", "--data-dir", dataDir]);
    try {
      await servesThenStops(launcher);
    } finally {
      if (launcher.child.exitCode === null) launcher.child.kill("SIGKILL");
    }
  });

  async function servesThenStops(launcher: CtlProcess): Promise<void> {
    const state = await waitUntilReady(launcher);
    assert.equal(state.launcherPid, launcher.child.pid);
    assert.match(launcher.output(), /Tessera playground is ready/);
    assert.ok(launcher.output().includes(`npm run ctl -- pd store list --pd ${state.members[0]!.httpUrl}`));
    await assertServing(state);
    await withClient(state, async (client) => {
      await client.put(KEY, new TextEncoder().encode(VALUE));
      assert.equal(await getText(client), VALUE);
    });

    launcher.child.kill("SIGINT");
    assert.equal(await exitCodeWithin(launcher, STOP_TIMEOUT_MS, "the launcher"), 0, launcher.output());
    assert.match(launcher.output(), /playground stopped\n/);
    for (const pid of memberPids(state))
      assert.equal(isProcessAlive(pid), false, `member pid ${pid} is gone`);
    assert.deepEqual(memberPids(readState(dataDir)!), [], "the state file records that nothing runs");
  }

  test("restarts detached from the same data directory with the data kept, and `playground stop` stops it", async () => {
    const starter = startCtl(["playground", "--data-dir", dataDir, "--detach"]);
    assert.equal(await exitCodeWithin(starter, START_TIMEOUT_MS, "the detached start"), 0, starter.output());
    const state = readState(dataDir)!;
    assert.equal(state.detached, true);
    assert.equal(state.launcherPid, null);
    assert.ok(starter.output().includes(`playground stop --data-dir ${dataDir}`));
    await assertServing(state);
    await withClient(state, async (client) => assert.equal(await getText(client), VALUE));

    const stopper = startCtl(["playground", "stop", "--data-dir", dataDir]);
    assert.equal(await exitCodeWithin(stopper, STOP_TIMEOUT_MS, "playground stop"), 0, stopper.output());
    for (const pid of memberPids(state))
      assert.equal(isProcessAlive(pid), false, `member pid ${pid} is gone`);
  });
});
