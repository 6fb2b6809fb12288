/**
 * The commands answered by pd's HTTP API (store, region, operator, scheduler, member, health, tso): each is a
 * top-level ctl command, and `ctl pd <name> ...` reaches the same code for pd-ctl habits and older scripts.
 */
import { UsageError } from "../../cli-errors.ts";
import type { CliIo } from "../../cli-io.ts";
import { COMMON_OPTIONS, parseCommandLine, pdHttpClient, printResult } from "../command-line.ts";
import { parseByteFormat } from "../key-format.ts";
import { CTL_USAGE } from "../usage.ts";
import { healthCommand } from "./health.ts";
import { memberCommand } from "./member.ts";
import { operatorCommand } from "./operator.ts";
import type { PdSubcommand } from "./pd-context.ts";
import { regionCommand } from "./region.ts";
import { schedulerCommand } from "./scheduler.ts";
import { storeCommand } from "./store.ts";
import { tsoCommand } from "./tso.ts";

const SUBCOMMANDS: Readonly<Record<string, PdSubcommand>> = {
  store: storeCommand,
  region: regionCommand,
  operator: operatorCommand,
  scheduler: schedulerCommand,
  member: memberCommand,
  health: healthCommand,
  tso: tsoCommand,
};

export const PD_COMMAND_NAMES: readonly string[] = Object.keys(SUBCOMMANDS);

const OPTIONS = {
  ...COMMON_OPTIONS,
  limit: { type: "string" },
  hex: { type: "boolean", default: false },
  "key-format": { type: "string" },
} as const;

/** `argv` starts with the command name (`["store", "show", "4"]`); returns the exit code. */
export async function runPdCommand(argv: readonly string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommandLine(argv, OPTIONS);
  const [name, ...args] = positionals;
  if (values.help || name === "help") {
    io.stdout(CTL_USAGE);
    return 0;
  }
  if (name === undefined)
    throw new UsageError(`missing pd subcommand; one of ${PD_COMMAND_NAMES.join(", ")}`);
  const subcommand = SUBCOMMANDS[name];
  if (subcommand === undefined) {
    throw new UsageError(`unknown pd subcommand "${name}"; one of ${PD_COMMAND_NAMES.join(", ")}`);
  }
  const keyFormat = values.hex ? "hex" : parseByteFormat(values["key-format"], "--key-format");
  const http = pdHttpClient(values.pd, io);
  const result = await subcommand({ http, args, limit: values.limit, keyFormat });
  return printResult(result, values.json, io);
}
