/**
 * Runs the system tools the harness drives (`ip`, `iptables`) and reports failures with the command and
 * its stderr, so a broken setup names the step that broke instead of surfacing later as a timeout.
 */
import { execFile } from "node:child_process";

const COMMAND_TIMEOUT_MS = 10_000;

export class CommandError extends Error {
  constructor(
    readonly command: readonly string[],
    readonly exitCode: number | null,
    readonly stderr: string,
  ) {
    super(`\`${command.join(" ")}\` failed (exit ${exitCode}): ${stderr.trim()}`);
    this.name = "CommandError";
  }
}

/** Runs `command` and resolves with its stdout; rejects with a CommandError on a non-zero exit. */
export function run(command: readonly string[]): Promise<string> {
  const [file, ...args] = command;
  if (file === undefined) return Promise.reject(new Error("run needs a command"));
  return new Promise((resolve, reject) => {
    execFile(file, args, { timeout: COMMAND_TIMEOUT_MS, encoding: "utf8" }, (error, stdout, stderr) => {
      if (error === null) resolve(stdout);
      else reject(new CommandError(command, typeof error.code === "number" ? error.code : null, stderr));
    });
  });
}

/** Cleanup steps run whatever state a crashed run left: a missing namespace or link is not an error. */
export async function runTolerant(command: readonly string[]): Promise<string | undefined> {
  try {
    return await run(command);
  } catch {
    return undefined;
  }
}
