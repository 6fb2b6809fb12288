/**
 * `playground [--stores N] [--pd N] [--data-dir DIR] [--detach]`: checks nothing already runs from the
 * data directory, plans ports, starts the members, waits until the cluster serves and prints how to use
 * it; then either stays in the foreground until a signal or leaves the members running in the background.
 */
import { CommandError } from "../../cli-errors.ts";
import { formatBanner, stopCommand } from "./banner.ts";
import { planCluster, type SavedPorts } from "./cluster-plan.ts";
import { PLAYGROUND_SIGNALS, superviseInForeground } from "./foreground.ts";
import { findEtcdBinary } from "./local-etcd.ts";
import type { PlaygroundStartOptions } from "./playground-options.ts";
import type { PlaygroundOutput } from "./playground-output.ts";
import { isOurProcess } from "./process-control.ts";
import { describeStopReport, RunningCluster } from "./running-cluster.ts";
import { type PlaygroundState, readState, writeState } from "./state-file.ts";

/** The launcher's own command line contains this; a reused pid of some other program will not. */
export const LAUNCHER_MARKER = "playground";

export class AlreadyRunningError extends CommandError {
  constructor(dataDir: string, pids: readonly number[]) {
    super(
      `a playground is already running from ${dataDir} (pids ${pids.join(", ")}); ` +
        `stop it with: ${stopCommand(dataDir)}`,
    );
    this.name = "AlreadyRunningError";
  }
}

export class PdLayoutChangedError extends CommandError {
  constructor(dataDir: string, previousPdCount: number, pdCount: number) {
    const where = (count: number): string => (count > 1 ? "in etcd" : "in pd-1's embedded store");
    super(
      `${dataDir} holds a cluster started with --pd ${previousPdCount}, whose metadata lives ` +
        `${where(previousPdCount)}; --pd ${pdCount} would keep it ${where(pdCount)} and lose the cluster. ` +
        `Start with --pd ${previousPdCount}, or use another --data-dir.`,
    );
    this.name = "PdLayoutChangedError";
  }
}

export class StoresDroppedError extends CommandError {
  constructor(dataDir: string, previousStoreCount: number, storeCount: number) {
    super(
      `${dataDir} holds ${previousStoreCount} stores; starting only ${storeCount} would leave the regions ` +
        `whose replicas live on the others without a quorum. Start with --stores ${previousStoreCount} ` +
        `(or more), or use another --data-dir.`,
    );
    this.name = "StoresDroppedError";
  }
}

export async function startPlayground(
  options: PlaygroundStartOptions,
  output: PlaygroundOutput,
): Promise<number> {
  const previous = readState(options.dataDir);
  checkStartAllowed(previous, options);
  const etcdBinary = options.pdCount > 1 ? findEtcdBinary(options.pdCount) : undefined;
  const plan = await planCluster({ options, savedPorts: savedPortsOf(previous), etcdBinary });
  const launcherPid = options.detach ? null : process.pid;
  const save = (cluster: RunningCluster, ready: boolean): void =>
    writeState(options.dataDir, cluster.state({ detached: options.detach, launcherPid, ready }));
  const cluster = new RunningCluster(plan, (changed) => save(changed, false), output.line);
  await startOrUndo(cluster, output);
  save(cluster, true);
  output.line("");
  output.line(
    formatBanner(cluster.state({ detached: options.detach, launcherPid, ready: true }), options.dataDir),
  );
  if (options.detach) {
    cluster.release();
    return 0;
  }
  return superviseInForeground(cluster, output, () =>
    writeState(options.dataDir, cluster.state({ detached: false, launcherPid: null, ready: false })),
  );
}

export class StartInterruptedError extends CommandError {
  constructor(signal: NodeJS.Signals) {
    super(`received ${signal} during start-up`);
    this.name = "StartInterruptedError";
  }
}

/** Ctrl-C while members start must not leave them running: they lead their own process groups. */
async function startOrUndo(cluster: RunningCluster, output: PlaygroundOutput): Promise<void> {
  const interrupt = new AbortController();
  const onSignal = (signal: NodeJS.Signals): void => interrupt.abort(new StartInterruptedError(signal));
  for (const signal of PLAYGROUND_SIGNALS) process.on(signal, onSignal);
  try {
    await cluster.start(interrupt.signal);
  } catch (error) {
    output.error("start-up failed; stopping what was started");
    for (const report of await cluster.stop()) output.error(`  ${describeStopReport(report)}`);
    throw error;
  } finally {
    for (const signal of PLAYGROUND_SIGNALS) process.off(signal, onSignal);
  }
}

function checkStartAllowed(previous: PlaygroundState | undefined, options: PlaygroundStartOptions): void {
  if (previous === undefined) return;
  const running = [
    ...(previous.launcherPid !== null && isOurProcess(previous.launcherPid, LAUNCHER_MARKER)
      ? [previous.launcherPid]
      : []),
    ...previous.members.flatMap((member) =>
      member.pid !== null && isOurProcess(member.pid, member.dataDir) ? [member.pid] : [],
    ),
  ];
  if (running.length > 0) throw new AlreadyRunningError(options.dataDir, running);
  if (previous.pdCount > 1 !== options.pdCount > 1) {
    throw new PdLayoutChangedError(options.dataDir, previous.pdCount, options.pdCount);
  }
  const previousStoreCount = previous.members.filter((member) => member.role === "store").length;
  if (options.storeCount < previousStoreCount) {
    throw new StoresDroppedError(options.dataDir, previousStoreCount, options.storeCount);
  }
}

function savedPortsOf(previous: PlaygroundState | undefined): SavedPorts {
  return Object.fromEntries((previous?.members ?? []).map((member) => [member.name, member.ports]));
}
