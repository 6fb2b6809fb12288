/** `ctl pd ...`: parses the shared options, runs one subcommand, prints a table or JSON. */
import { parseArgs } from "node:util";
import { UsageError } from "../../cli-errors.ts";
import type { CliIo } from "../../cli-io.ts";
import { DEFAULT_PD_HTTP_URL, PdHttpClient } from "../../http.ts";
import { healthCommand } from "./health.ts";
import { memberCommand } from "./member.ts";
import { operatorCommand } from "./operator.ts";
import type { PdSubcommand } from "./pd-context.ts";
import { regionCommand } from "./region.ts";
import { schedulerCommand } from "./scheduler.ts";
import { storeCommand } from "./store.ts";
import { tsoCommand } from "./tso.ts";
import { PD_USAGE } from "./usage.ts";

const SUBCOMMANDS: Readonly<Record<string, PdSubcommand>> = {
  store: storeCommand,
  region: regionCommand,
  operator: operatorCommand,
  scheduler: schedulerCommand,
  member: memberCommand,
  health: healthCommand,
  tso: tsoCommand,
};

const OPTIONS = {
  pd: { type: "string", default: DEFAULT_PD_HTTP_URL },
  json: { type: "boolean", default: false },
  help: { type: "boolean", short: "h", default: false },
  limit: { type: "string" },
  hex: { type: "boolean", default: false },
} as const;

export async function runPdCommand(argv: readonly string[], io: CliIo): Promise<void> {
  const { values, positionals } = parseOptions(argv);
  const [name, ...args] = positionals;
  if (values.help || name === "help") {
    io.stdout(PD_USAGE);
    return;
  }
  if (name === undefined)
    throw new UsageError(`missing pd subcommand; one of ${Object.keys(SUBCOMMANDS).join(", ")}`);
  const subcommand = SUBCOMMANDS[name];
  if (subcommand === undefined) {
    throw new UsageError(`unknown pd subcommand "${name}"; one of ${Object.keys(SUBCOMMANDS).join(", ")}`);
  }
  const http = new PdHttpClient(values.pd, { fetch: io.fetch });
  const result = await subcommand({ http, args, limit: values.limit, hexKey: values.hex });
  io.stdout(values.json ? JSON.stringify(result.json, null, 2) : result.text);
}

function parseOptions(argv: readonly string[]) {
  try {
    return parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
}
