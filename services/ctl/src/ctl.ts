/**
 * The ctl command line as a function of its arguments, so tests run it without spawning a process:
 * returns the exit code after writing to `io`.
 */
import { CommandError, UsageError } from "./cli-errors.ts";
import type { CliIo } from "./cli-io.ts";
import { runClusterCommand } from "./commands/cluster/cluster-command.ts";
import { runGcCommand } from "./commands/gc/gc-command.ts";
import { runKvCommand } from "./commands/kv/kv-command.ts";
import { PD_COMMAND_NAMES, runPdCommand } from "./commands/pd/pd-command.ts";
import { runPlaygroundCommand } from "./commands/playground/playground-command.ts";
import { runTxnCommand } from "./commands/txn/txn-command.ts";
import { CTL_USAGE } from "./commands/usage.ts";

export { CTL_USAGE };

/** `pd health` stays under `pd` only, so `health` alone cannot be mistaken for `cluster health`. */
const TOP_LEVEL_PD_COMMANDS = PD_COMMAND_NAMES.filter((name) => name !== "health");
const COMMANDS = ["cluster", ...TOP_LEVEL_PD_COMMANDS, "kv", "txn", "gc", "playground", "pd"];

export async function runCtl(argv: readonly string[], io: CliIo): Promise<number> {
  const [command = "help", ...rest] = argv;
  try {
    return await dispatch(command, argv, rest, io);
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr(`ctl: ${error.message} (see --help)`);
      return error.exitCode;
    }
    if (error instanceof CommandError) {
      io.stderr(`ctl: ${error.message}`);
      return error.exitCode;
    }
    throw error;
  }
}

async function dispatch(
  command: string,
  argv: readonly string[],
  rest: readonly string[],
  io: CliIo,
): Promise<number> {
  if (TOP_LEVEL_PD_COMMANDS.includes(command)) return runPdCommand(argv, io);
  switch (command) {
    case "cluster":
      return runClusterCommand(rest, io);
    case "kv":
      return runKvCommand(rest, io);
    case "txn":
      return runTxnCommand(rest, io);
    case "gc":
      return runGcCommand(rest, io);
    case "pd":
      return runPdCommand(rest, io);
    case "playground":
      return runPlaygroundCommand(rest, io);
    case "help":
    case "--help":
    case "-h":
      io.stdout(CTL_USAGE);
      return 0;
    default:
      throw new UsageError(`unknown command "${command}"; available: ${COMMANDS.join(", ")}`);
  }
}
