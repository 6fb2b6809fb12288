/**
 * One chaos run at a time per machine: runs share the namespace prefix and subnet, and each one sweeps
 * leftovers with that prefix at start, so a second run would tear down the first one's network.
 */
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { ChaosPreflightError } from "./preflight.ts";

const LOCK_PATH = "/run/tessera-chaos.lock";

export function acquireRunLock(): () => void {
  try {
    writeFileSync(LOCK_PATH, String(process.pid), { flag: "wx" });
  } catch {
    const holder = Number(readFileSync(LOCK_PATH, "utf8"));
    if (isAlive(holder))
      throw new ChaosPreflightError(`another chaos run (pid ${holder}) is using the network`);
    // The holder crashed without releasing: its leftovers are swept by the run that takes over.
    writeFileSync(LOCK_PATH, String(process.pid));
  }
  return () => rmSync(LOCK_PATH, { force: true });
}

function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
