/**
 * The foreground playground after start-up: a status line every few seconds, a message when a member dies,
 * and on SIGINT, SIGTERM or SIGHUP an orderly stop of every member, then the exit code (0 when all stopped
 * cleanly).
 *
 * Ctrl-C under `npm start` reaches the launcher more than once (the terminal signals the whole process
 * group, and npm and tsx pass the signal on), so repeats within a second count as one. A signal after that
 * kills every member at once, for an operator who will not wait for the graceful stop.
 */

import { describeExit } from "./managed-child.ts";
import type { PlaygroundOutput } from "./playground-output.ts";
import { describeStopReport, isCleanStop, type RunningCluster } from "./running-cluster.ts";
import { fetchStatusLine } from "./status-line.ts";

/** A terminal redraws in place, so it can refresh often; a log file gets a line twice a minute. */
const STATUS_INTERVAL_TERMINAL_MS = 2_000;
const STATUS_INTERVAL_LOG_MS = 30_000;
const REPEATED_SIGNAL_WINDOW_MS = 1_000;
/** SIGHUP too: a closed terminal must not leave the members running without their launcher. */
export const PLAYGROUND_SIGNALS: readonly NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP"];

export function superviseInForeground(
  cluster: RunningCluster,
  output: PlaygroundOutput,
  onStopped: () => void,
): Promise<number> {
  return new Promise((resolve) => {
    let stopping: Promise<number> | undefined;
    let firstSignalAtMs = 0;
    const statusTimer = startStatusUpdates(cluster, output, () => stopping !== undefined);
    const stop = (reason: string): void => {
      if (stopping !== undefined) return;
      clearInterval(statusTimer);
      output.line(`${reason}; stopping the playground`);
      stopping = stopMembers(cluster, output)
        .catch((error: unknown) => {
          output.error(`stopping the playground failed: ${errorMessage(error)}`);
          return 1;
        })
        .then((exitCode) => {
          for (const signal of PLAYGROUND_SIGNALS) process.off(signal, onSignal);
          onStopped();
          return exitCode;
        });
      // Failures became exit code 1 above, so this always settles the launcher's promise.
      void stopping.then(resolve);
    };
    const onSignal = (signal: NodeJS.Signals): void => {
      if (stopping === undefined) {
        firstSignalAtMs = performance.now();
        stop(`received ${signal}`);
      } else if (performance.now() - firstSignalAtMs > REPEATED_SIGNAL_WINDOW_MS) {
        output.error(`received ${signal} again: killing every member now`);
        cluster.kill();
      }
    };
    for (const signal of PLAYGROUND_SIGNALS) process.on(signal, onSignal);
    watchForCrashes(cluster, output, () => stopping !== undefined, stop);
  });
}

async function stopMembers(cluster: RunningCluster, output: PlaygroundOutput): Promise<number> {
  const reports = await cluster.stop();
  for (const report of reports) output.line(`  ${describeStopReport(report)}`);
  const clean = isCleanStop(reports);
  output.line(clean ? "playground stopped" : "playground stopped, not cleanly (see the member logs)");
  return clean ? 0 : 1;
}

function watchForCrashes(
  cluster: RunningCluster,
  output: PlaygroundOutput,
  isStopping: () => boolean,
  stop: (reason: string) => void,
): void {
  for (const child of cluster.members) {
    void child.exited.then((status) => {
      if (isStopping()) return;
      output.error(
        `${child.member.name} exited unexpectedly (${describeExit(status)}); log: ${child.member.logPath}`,
      );
      if (cluster.members.every((member) => member.status !== undefined)) stop("every member has exited");
    });
  }
}

function startStatusUpdates(
  cluster: RunningCluster,
  output: PlaygroundOutput,
  isStopping: () => boolean,
): NodeJS.Timeout {
  const pdHttpUrl = cluster.plan.pd[0]!.httpUrl;
  let inFlight = false;
  const intervalMs = process.stdout.isTTY ? STATUS_INTERVAL_TERMINAL_MS : STATUS_INTERVAL_LOG_MS;
  return setInterval(() => {
    // A slow pd must not pile up requests: skip a tick while the previous one is still waiting.
    if (inFlight) return;
    inFlight = true;
    void fetchStatusLine(pdHttpUrl, new Date())
      .catch((error: unknown) => `status unavailable: ${errorMessage(error)}`)
      .then((line) => {
        // An answer that arrives after Ctrl-C would interleave with the stop report.
        if (!isStopping()) output.status(line);
      })
      .finally(() => {
        inFlight = false;
      });
  }, intervalMs);
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
