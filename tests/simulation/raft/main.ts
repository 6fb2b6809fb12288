/**
 * `npm run sim:raft -- [--seeds N] [--seed S] [--steps K] [--nodes 3|5] [--bug NAME] [--end-to-end-only]
 * [--pre-vote-only] [--trace N]`
 *
 * Runs N seeded simulations (seeds S, S+1, …; S from --seed, else SEED, else random) and prints one line
 * per seed and a final summary; exits 1 when any seed fails, after printing its replay command and the
 * last events of its trace. --bug builds every node with one of the raft core's injectable bugs (to
 * replay a bug-injection failure); --end-to-end-only leaves out the checks of what nodes promise on the wire;
 * --pre-vote-only runs every seed with pre-vote (by default a fifth run without it).
 */
import { parseArgs } from "node:util";
import { INJECTED_BUGS, type InjectedBug, isInjectedBug } from "#raft/testing";
import { freshSeed, readSeedFromEnvironment } from "#sim";
import { runSimulation, SimulationFailure, type SimulationSummary } from "./simulation.ts";

// The same length as a CI seed, so a seed behaves the same here and in `npm test`.
const DEFAULT_STEPS = 1000;

export class UsageError extends Error {
  override readonly name = "UsageError";
}

interface CliOptions {
  readonly seeds: number;
  readonly firstSeed: number;
  readonly steps: number;
  readonly nodeCount: 3 | 5 | undefined;
  readonly bug: InjectedBug | undefined;
  readonly traceLines: number;
  readonly endToEndOnly: boolean;
  readonly preVoteOnly: boolean;
}

function parsePositive(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const parsed = Number(value);
  if (!Number.isSafeInteger(parsed) || parsed < 0)
    throw new UsageError(`--${name} must be a non-negative integer, got ${value}`);
  return parsed;
}

function parseCli(argv: readonly string[]): CliOptions {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      seeds: { type: "string" },
      seed: { type: "string" },
      steps: { type: "string" },
      nodes: { type: "string" },
      bug: { type: "string" },
      trace: { type: "string" },
      "end-to-end-only": { type: "boolean" },
      "pre-vote-only": { type: "boolean" },
    },
  });
  const nodes = values.nodes;
  if (nodes !== undefined && nodes !== "3" && nodes !== "5")
    throw new UsageError(`--nodes must be 3 or 5, got ${nodes}`);
  const bug = values.bug;
  if (bug !== undefined && !isInjectedBug(bug)) {
    throw new UsageError(`--bug must be one of ${INJECTED_BUGS.join(", ")}, got ${bug}`);
  }
  const seedFromEnvironment = readSeedFromEnvironment(process.env);
  return {
    seeds: parsePositive("seeds", values.seeds, 1),
    firstSeed: parsePositive("seed", values.seed, seedFromEnvironment ?? freshSeed()),
    steps: parsePositive("steps", values.steps, DEFAULT_STEPS),
    nodeCount: nodes === undefined ? undefined : nodes === "3" ? 3 : 5,
    bug,
    traceLines: parsePositive("trace", values.trace, 60),
    endToEndOnly: values["end-to-end-only"] === true,
    preVoteOnly: values["pre-vote-only"] === true,
  };
}

function formatSummary(summary: SimulationSummary, elapsedMs: number): string {
  const c = summary.counters;
  return (
    `seed ${summary.seed} ok: nodes=${summary.nodeCount} steps=${summary.steps} committed=${summary.committedIndex} ` +
    `applied-proposals=${c.proposalsApplied}/${c.proposalsSubmitted} leader-terms=${summary.termsWithLeader} ` +
    `reads=${summary.readsChecked} conf-changes=${c.confChangesApplied} snapshots=${c.snapshotsInstalled} ` +
    `crashes=${c.crashes} faults=${c.faultsInjected} virtual=${(summary.virtualMs / 1000).toFixed(1)}s ` +
    `(${elapsedMs.toFixed(0)}ms) [${summary.faultProfile}]`
  );
}

function main(): number {
  const options = parseCli(process.argv.slice(2));
  const started = performance.now();
  const failures: SimulationFailure[] = [];
  let committed = 0;
  for (let offset = 0; offset < options.seeds; offset++) {
    const seed = options.firstSeed + offset;
    const seedStarted = performance.now();
    try {
      const summary = runSimulation({
        seed,
        steps: options.steps,
        nodeCount: options.nodeCount,
        injectedBug: options.bug,
        traceCapacity: options.traceLines,
        endToEndOnly: options.endToEndOnly,
        preVoteOnly: options.preVoteOnly,
      });
      committed += summary.committedIndex;
      console.log(formatSummary(summary, performance.now() - seedStarted));
    } catch (error) {
      if (!(error instanceof SimulationFailure)) throw error;
      failures.push(error);
      console.log(`seed ${seed} FAILED: ${error.message}`);
      for (const line of error.traceLines) console.log(`    ${line}`);
    }
  }
  const seconds = (performance.now() - started) / 1000;
  console.log(
    `\n${options.seeds} seeds from ${options.firstSeed}, ${options.steps} steps each: ` +
      `${options.seeds - failures.length} passed, ${failures.length} failed, ${committed} entries committed, ${seconds.toFixed(1)}s`,
  );
  for (const failure of failures)
    console.log(
      `  FAILED seed ${failure.seed} at step ${failure.step} (${failure.invariant}): ${failure.replayCommand}`,
    );
  return failures.length === 0 ? 0 : 1;
}

try {
  process.exitCode = main();
} catch (error) {
  if (!(error instanceof UsageError)) throw error;
  console.error(error.message);
  process.exitCode = 2;
}
