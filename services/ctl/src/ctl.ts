/**
 * The ctl command line as a function of its arguments, so tests run it without spawning a process:
 * returns the exit code after writing to `io`.
 */
import { CommandError, UsageError } from "./cli-errors.ts";
import type { CliIo } from "./cli-io.ts";
import { runPdCommand } from "./commands/pd/pd-command.ts";
import { PLAYGROUND_MESSAGE } from "./playground.ts";

export const CTL_USAGE = `Usage: npm run ctl -- <command> ...

Commands:
  playground   start a local cluster (npm start)
  pd           inspect and steer pd; \`npm run ctl -- pd --help\` lists its subcommands`;

export async function runCtl(argv: readonly string[], io: CliIo): Promise<number> {
  const [command = "help", ...rest] = argv;
  try {
    switch (command) {
      case "playground":
        io.stdout(PLAYGROUND_MESSAGE);
        return 0;
      case "pd":
        await runPdCommand(rest, io);
        return 0;
      case "help":
      case "--help":
      case "-h":
        io.stdout(CTL_USAGE);
        return 0;
      default:
        throw new UsageError(`unknown command "${command}"; available: playground, pd`);
    }
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
