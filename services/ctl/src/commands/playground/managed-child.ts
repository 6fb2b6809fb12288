/**
 * One member process started by the launcher. Output is appended to the member's log file, never piped,
 * so a detached cluster keeps logging after the launcher exits. Each child leads its own process group:
 * Ctrl-C in the terminal then reaches only the launcher, which stops the members in order; a second
 * signal arriving at a member would make it skip its graceful shutdown.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { closeSync, mkdirSync, openSync } from "node:fs";
import { dirname } from "node:path";
import { CommandError } from "../../cli-errors.ts";
import { type Member, REPOSITORY_ROOT } from "./cluster-plan.ts";
import type { StopOutcome } from "./process-control.ts";
import { sleepUnlessAborted } from "./sleep-unless-aborted.ts";

/** The operating system gave the child no process (no pid): it never ran. */
export class ChildStartError extends CommandError {
  constructor(
    readonly member: string,
    readonly command: string,
  ) {
    super(`could not start ${member} (${command})`);
  }
}

export interface ExitStatus {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

const KILL_WAIT_MS = 5_000;

export class ManagedChild {
  readonly pid: number;
  /** Settles when the process has exited and been reaped. */
  readonly exited: Promise<ExitStatus>;
  private exitStatus: ExitStatus | undefined;

  private constructor(
    readonly member: Member,
    private readonly child: ChildProcess,
  ) {
    this.pid = child.pid!;
    this.exited = new Promise((resolve) => {
      child.once("exit", (code, signal) => {
        this.exitStatus = { code, signal };
        resolve(this.exitStatus);
      });
    });
  }

  /** Spawns `member`; a command that cannot be executed at all rejects here rather than exiting later. */
  static async start(member: Member): Promise<ManagedChild> {
    mkdirSync(dirname(member.logPath), { recursive: true });
    mkdirSync(member.dataDir, { recursive: true });
    const log = openSync(member.logPath, "a");
    try {
      const child = spawn(member.command, [...member.args], {
        cwd: REPOSITORY_ROOT,
        detached: true,
        stdio: ["ignore", log, log],
      });
      const spawned = new Promise<void>((resolve, reject) => {
        child.once("spawn", resolve);
        child.once("error", reject);
      });
      // Listen for exit before awaiting, so even an immediate crash is observed.
      const managed = child.pid === undefined ? undefined : new ManagedChild(member, child);
      await spawned;
      if (managed === undefined) throw new ChildStartError(member.name, member.command);
      return managed;
    } finally {
      closeSync(log);
    }
  }

  get status(): ExitStatus | undefined {
    return this.exitStatus;
  }

  /** Lets the launcher exit while the child keeps running (--detach). */
  release(): void {
    this.child.unref();
  }

  kill(): void {
    this.child.kill("SIGKILL");
  }

  async stop(): Promise<StopOutcome> {
    if (this.exitStatus !== undefined) return "not-running";
    this.child.kill("SIGTERM");
    if (await this.exitsWithin(this.member.stopTimeoutMs)) return "stopped";
    this.child.kill("SIGKILL");
    return (await this.exitsWithin(KILL_WAIT_MS)) ? "killed" : "survived";
  }

  private async exitsWithin(timeoutMs: number): Promise<boolean> {
    const abort = new AbortController();
    const timedOut = sleepUnlessAborted(timeoutMs, abort.signal).then(() => "timeout" as const);
    const outcome = await Promise.race([this.exited.then(() => "exited" as const), timedOut]);
    abort.abort();
    return outcome === "exited";
  }
}

export function describeExit(status: ExitStatus): string {
  return status.signal === null ? `exit code ${status.code}` : `signal ${status.signal}`;
}
