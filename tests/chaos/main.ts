/**
 * `npm run chaos -- --workload register|set --time S --nemesis kill,pause,partition,delay [--regions N]
 *   [--seed N]`
 * Runs one Jepsen-style chaos run against pd and three stores in network namespaces (root needed), prints
 * the verdict, the history file, throughput and unavailability around each fault, and exits 1 when the
 * checker finds a violation (or cannot decide).
 */
import { parseArgs } from "node:util";
import { FAULT_KINDS, type FaultKind } from "./nemesis/nemesis.ts";
import { runChaos, type WorkloadName } from "./run-chaos.ts";

const USAGE = `usage: npm run chaos -- --workload register|set --time S --nemesis ${FAULT_KINDS.join(",")} [--regions N] [--seed N]`;

function parseOptions(argv: readonly string[]) {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      workload: { type: "string", default: "register" },
      time: { type: "string", default: "60" },
      nemesis: { type: "string", default: FAULT_KINDS.join(",") },
      seed: { type: "string" },
      regions: { type: "string", default: "3" },
      help: { type: "boolean", default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  const workload = values.workload;
  if (workload !== "register" && workload !== "set")
    throw new Error(`unknown workload ${workload}\n${USAGE}`);
  const timeSeconds = Number(values.time);
  if (!(timeSeconds > 0)) throw new Error(`--time must be a positive number of seconds\n${USAGE}`);
  const nemesis = values.nemesis === "" || values.nemesis === "none" ? [] : values.nemesis.split(",");
  for (const kind of nemesis) {
    if (!FAULT_KINDS.includes(kind as FaultKind)) throw new Error(`unknown nemesis ${kind}\n${USAGE}`);
  }
  const regions = Number(values.regions);
  if (!Number.isInteger(regions) || regions < 1)
    throw new Error(`--regions must be a positive integer\n${USAGE}`);
  const seed = values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(values.seed);
  return { workload: workload as WorkloadName, timeSeconds, nemesis: nemesis as FaultKind[], regions, seed };
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const result = await runChaos(options);
  if (!result.ok) {
    process.stdout.write(`FAILED (seed ${options.seed}); history in ${result.historyPath}\n`);
    process.exitCode = 1;
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`chaos: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
