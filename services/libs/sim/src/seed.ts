/**
 * Seeds for simulations. A run takes `SEED` from the environment when it is set (to replay a failure)
 * and a fresh random seed otherwise (so CI explores new schedules), and always prints the seed with the
 * command that replays it: a failure that cannot be replayed is a failure that cannot be fixed.
 */
import { randomInt } from "node:crypto";
import { relative } from "node:path";

export const SEED_ENVIRONMENT_VARIABLE = "SEED";

export interface ResolveSeedOptions {
  /** Where to look for SEED [process.env]. */
  readonly environment?: Readonly<Record<string, string | undefined>>;
  /** The command the printed replay line suggests [this process's node command line]. */
  readonly command?: string;
  /** Receives the seed line [a write to stderr]. */
  readonly print?: (line: string) => void;
}

export class InvalidSeedError extends Error {
  constructor(readonly value: string) {
    super(`${SEED_ENVIRONMENT_VARIABLE}=${JSON.stringify(value)} is not a non-negative safe integer`);
    this.name = "InvalidSeedError";
  }
}

/** The seed for the simulation called `label`; prints `[sim] <label> seed=<n> (replay: SEED=<n> ...)`. */
export function resolveSeed(label: string, options: ResolveSeedOptions = {}): number {
  const seed = readSeedFromEnvironment(options.environment ?? process.env) ?? freshSeed();
  const line = formatSeedLine(label, seed, options.command ?? currentCommand());
  const print = options.print ?? ((text: string) => process.stderr.write(`${text}\n`));
  print(line);
  return seed;
}

/** SEED parsed from `environment`, or undefined when it is unset or empty. */
export function readSeedFromEnvironment(
  environment: Readonly<Record<string, string | undefined>>,
): number | undefined {
  const value = environment[SEED_ENVIRONMENT_VARIABLE]?.trim();
  if (value === undefined || value === "") return undefined;
  if (!/^\d+$/.test(value)) throw new InvalidSeedError(value);
  const seed = Number(value);
  if (!Number.isSafeInteger(seed)) throw new InvalidSeedError(value);
  return seed;
}

/** A random seed below 2^32: short enough to type back in, plenty to explore schedules. */
export function freshSeed(): number {
  return randomInt(0, 2 ** 32);
}

export function formatReplay(seed: number, command: string): string {
  return `${SEED_ENVIRONMENT_VARIABLE}=${seed} ${command}`;
}

export function formatSeedLine(label: string, seed: number, command: string): string {
  return `[sim] ${label} seed=${seed} (replay: ${formatReplay(seed, command)})`;
}

/**
 * Rebuilds how this process was started. Under `node --test` each test file runs in a child process
 * whose argv names that file, so the result reruns just the file that printed the seed.
 */
function currentCommand(): string {
  const script = process.argv[1];
  if (script === undefined) return "<command>";
  const words = ["node", ...process.execArgv, relative(process.cwd(), script), ...process.argv.slice(2)];
  return words.join(" ");
}
