/**
 * `playground stop [--data-dir DIR]`: stops the playground recorded in DIR's state file. A foreground
 * launcher is asked to stop (SIGTERM), so it stops its members in order and prints the outcome in its own
 * terminal; members left without a launcher (--detach, or a launcher that died) are stopped here by pid,
 * stores first, then pd, then etcd, each with SIGTERM and a SIGKILL after its shutdown deadline.
 */
import { CommandError } from "../../cli-errors.ts";
import type { PlaygroundOutput } from "./playground-output.ts";
import { isOurProcess, type StopOutcome, stopProcess } from "./process-control.ts";
import { STOP_ORDER } from "./running-cluster.ts";
import { LAUNCHER_MARKER } from "./start-playground.ts";
import {
  type MemberState,
  type PlaygroundState,
  readState,
  stateFilePath,
  writeState,
} from "./state-file.ts";

const LAUNCHER_EXIT_MARGIN_MS = 10_000;

export class NoPlaygroundError extends CommandError {
  constructor(dataDir: string) {
    super(`no playground was started in ${dataDir} (${stateFilePath(dataDir)} does not exist)`);
    this.name = "NoPlaygroundError";
  }
}

export async function stopPlayground(dataDir: string, output: PlaygroundOutput): Promise<number> {
  const state = readState(dataDir);
  if (state === undefined) throw new NoPlaygroundError(dataDir);
  const launcherRunning = state.launcherPid !== null && isOurProcess(state.launcherPid, LAUNCHER_MARKER);
  if (launcherRunning) await stopLauncher(state, output);
  // Re-read: a launcher that stopped its members has already recorded that.
  const remaining = (readState(dataDir) ?? state).members.filter(
    (member) => member.pid !== null && isOurProcess(member.pid, member.dataDir),
  );
  if (remaining.length === 0) {
    output.line(launcherRunning ? "playground stopped" : `no playground process is running from ${dataDir}`);
    markStopped(dataDir, state);
    return 0;
  }
  const outcomes = await stopMembers(remaining, output);
  markStopped(dataDir, state);
  const clean = outcomes.every((outcome) => outcome === "stopped" || outcome === "not-running");
  output.line(clean ? "playground stopped" : "playground stopped, not cleanly (see the member logs)");
  return clean ? 0 : 1;
}

async function stopLauncher(state: PlaygroundState, output: PlaygroundOutput): Promise<void> {
  const launcherPid = state.launcherPid!;
  output.line(`asking the playground launcher (pid ${launcherPid}) to stop its members`);
  const budgetMs =
    STOP_ORDER.map((role) =>
      Math.max(
        0,
        ...state.members.filter((member) => member.role === role).map((member) => member.stopTimeoutMs),
      ),
    ).reduce((sum, timeoutMs) => sum + timeoutMs, 0) + LAUNCHER_EXIT_MARGIN_MS;
  const outcome = await stopProcess(launcherPid, LAUNCHER_MARKER, budgetMs);
  if (outcome !== "stopped" && outcome !== "not-running") {
    output.error(`the launcher did not exit in time (${outcome}); stopping its members directly`);
  }
}

async function stopMembers(
  members: readonly MemberState[],
  output: PlaygroundOutput,
): Promise<StopOutcome[]> {
  const outcomes: StopOutcome[] = [];
  for (const role of STOP_ORDER) {
    const group = members.filter((member) => member.role === role);
    const groupOutcomes = await Promise.all(
      group.map((member) => stopProcess(member.pid!, member.dataDir, member.stopTimeoutMs)),
    );
    group.forEach((member, index) => {
      output.line(`  ${member.name} (pid ${member.pid}): ${groupOutcomes[index]}`);
    });
    outcomes.push(...groupOutcomes);
  }
  return outcomes;
}

function markStopped(dataDir: string, state: PlaygroundState): void {
  const current = readState(dataDir) ?? state;
  writeState(dataDir, {
    ...current,
    launcherPid: null,
    ready: false,
    updatedAt: new Date().toISOString(),
    members: current.members.map((member) => ({ ...member, pid: null })),
  });
}
