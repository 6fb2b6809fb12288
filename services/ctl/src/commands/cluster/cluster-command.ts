/** `cluster <action>`: whole-cluster views built from several pd answers. Today: `cluster health`. */
import type { CliIo } from "../../cli-io.ts";
import { COMMON_OPTIONS, parseCommandLine, pdHttpClient, printResult } from "../command-line.ts";
import { exactly, unknownAction } from "../pd/arguments.ts";
import { CTL_USAGE } from "../usage.ts";
import { clusterHealthCommand } from "./cluster-health.ts";

/** `argv` follows `cluster`; returns the exit code (1 when the cluster is unhealthy). */
export async function runClusterCommand(argv: readonly string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommandLine(argv, COMMON_OPTIONS);
  const [action = "health", ...rest] = positionals;
  if (values.help || action === "help") {
    io.stdout(CTL_USAGE);
    return 0;
  }
  if (action !== "health") throw unknownAction("cluster", action, "health");
  exactly(rest, [], "cluster health");
  const result = await clusterHealthCommand(pdHttpClient(values.pd, io));
  return printResult(result, values.json, io);
}
