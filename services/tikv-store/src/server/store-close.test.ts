/**
 * Nothing a store starts outlives its close(): the store, its pd worker, its gRPC server and transport
 * and its background tasks all end. Run in a child process so the test runner's own handles do not hide a
 * leak, and so a leaked ref'd timer or socket shows as a process that does not exit by itself.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const CHILD = fileURLToPath(new URL("../testing/close-leak-child.ts", import.meta.url));
/** Far above the child's few seconds of work: only a process kept alive by a leak reaches it. */
const EXIT_DEADLINE_MS = 60_000;

interface CloseReport {
  readonly read: string | undefined;
  readonly backgroundTasks: number;
  readonly resources: readonly string[];
}

test("after close no timer, socket or background task of the store, pd worker or server is left", async () => {
  const child = spawn(process.execPath, ["--import", "tsx", CHILD], { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const killer = setTimeout(() => child.kill("SIGKILL"), EXIT_DEADLINE_MS);
  const exit = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on("exit", (code, signal) => resolve({ code, signal })),
  );
  clearTimeout(killer);
  assert.deepEqual(
    exit,
    { code: 0, signal: null },
    `the child did not exit by itself:\n${stdout}\n${stderr}`,
  );
  const report = JSON.parse(stdout.trim().split("\n").at(-1)!) as CloseReport;
  assert.equal(report.read, "value-49");
  assert.equal(report.backgroundTasks, 0);
  // Only the child's own stdio may remain (its pipes to this process).
  const leaked = report.resources.filter((resource) => resource !== "PipeWrap" && resource !== "TTYWrap");
  assert.deepEqual(leaked, [], `handles alive after close: ${leaked.join(", ")}`);
});
