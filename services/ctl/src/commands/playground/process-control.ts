/**
 * Stopping processes the launcher knows only by pid (a detached playground, or one whose launcher died):
 * SIGTERM, wait a bounded time, then SIGKILL. A pid from a state file may since have been reused by an
 * unrelated process, so on Linux a process counts as ours only if its command line mentions `marker`
 * (the member's data directory).
 */
import { readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";

const POLL_INTERVAL_MS = 100;
/** After SIGKILL the kernel needs only moments; waiting longer means the process is stuck in the kernel. */
const KILL_WAIT_MS = 5_000;

export type StopOutcome = "not-running" | "stopped" | "killed" | "survived";

/** Alive and not a zombie (a zombie has exited; it merely waits for its parent to read its status). */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
  return processState(pid) !== "Z";
}

/** Whether `pid` runs a command line containing `marker`; without /proc, any live process counts. */
export function isOurProcess(pid: number, marker: string): boolean {
  if (!isProcessAlive(pid)) return false;
  const commandLine = readProcFile(pid, "cmdline");
  return commandLine === undefined || commandLine.replaceAll("\0", " ").includes(marker);
}

export async function stopProcess(pid: number, marker: string, timeoutMs: number): Promise<StopOutcome> {
  if (!isOurProcess(pid, marker)) return "not-running";
  signal(pid, "SIGTERM");
  if (await waitForExit(pid, timeoutMs)) return "stopped";
  signal(pid, "SIGKILL");
  return (await waitForExit(pid, KILL_WAIT_MS)) ? "killed" : "survived";
}

export async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  while (isProcessAlive(pid)) {
    if (performance.now() >= deadline) return false;
    await sleep(POLL_INTERVAL_MS);
  }
  return true;
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch (error) {
    // Exiting between the check and the signal is the outcome we wanted.
    if ((error as NodeJS.ErrnoException).code !== "ESRCH") throw error;
  }
}

/** The one-letter state from /proc/<pid>/stat (R, S, D, Z, ...), or undefined without /proc. */
function processState(pid: number): string | undefined {
  const stat = readProcFile(pid, "stat");
  // The command name in parentheses may itself contain spaces or parentheses; the state follows the last ")".
  return stat?.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
}

function readProcFile(pid: number, name: string): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/${name}`, "utf8");
  } catch {
    return undefined;
  }
}
