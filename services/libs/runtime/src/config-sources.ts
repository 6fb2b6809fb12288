/**
 * Reads raw settings from each configuration source and rejects keys the schema does not know, naming the
 * source and suggesting the nearest known key: a misspelt setting silently ignored is how a cluster ends up
 * running with defaults nobody chose.
 */
import { readFileSync } from "node:fs";
import { parse as parseToml, TomlError } from "smol-toml";
import { ConfigError } from "./config-error.ts";
import { type ConfigSchema, environmentVariableName, flagName } from "./config-schema.ts";
import type { RawOrigin } from "./config-values.ts";

export interface RawSetting {
  readonly raw: unknown;
  readonly origin: RawOrigin;
  /** Where the value came from, e.g. `flag --log.level` or `config file /etc/pd.toml`. */
  readonly source: string;
}

export type RawSettings = ReadonlyMap<string, RawSetting>;

export interface CommandLine {
  readonly configPath: string | undefined;
  readonly settings: RawSettings;
}

const CONFIG_FLAG = "config";

export function readCommandLine(schema: ConfigSchema, argv: readonly string[]): CommandLine {
  const settings = new Map<string, RawSetting>();
  let configPath: string | undefined;
  let index = 0;
  while (index < argv.length) {
    const token = argv[index]!;
    if (!token.startsWith("--") || token === "--") {
      throw new ConfigError({
        source: "command line",
        problem: `unexpected argument "${token}" (settings are written --key=value or --key value)`,
      });
    }
    const equalsAt = token.indexOf("=");
    const key = equalsAt === -1 ? token.slice(2) : token.slice(2, equalsAt);
    const source = `flag ${flagName(key)}`;
    if (key !== CONFIG_FLAG && !Object.hasOwn(schema, key)) {
      throw unknownKey(source, key, schema);
    }
    const taken = takeFlagValue(schema, argv, index, equalsAt === -1 ? undefined : token.slice(equalsAt + 1));
    index = taken.nextIndex;
    if (key === CONFIG_FLAG) {
      if (configPath !== undefined) throw new ConfigError({ source, problem: "given more than once" });
      configPath = taken.value;
    } else {
      if (settings.has(key)) throw new ConfigError({ source, key, problem: "given more than once" });
      settings.set(key, { raw: taken.value, origin: "text", source });
    }
  }
  return { configPath, settings };
}

/** A bool flag alone means true; any other flag takes the next token unless it was written `--key=value`. */
function takeFlagValue(
  schema: ConfigSchema,
  argv: readonly string[],
  index: number,
  inlineValue: string | undefined,
): { readonly value: string; readonly nextIndex: number } {
  if (inlineValue !== undefined) return { value: inlineValue, nextIndex: index + 1 };
  const key = argv[index]!.slice(2);
  const next = argv[index + 1];
  if (schema[key]?.type === "bool") {
    return next === "true" || next === "false"
      ? { value: next, nextIndex: index + 2 }
      : { value: "true", nextIndex: index + 1 };
  }
  if (next === undefined || next.startsWith("--")) {
    throw new ConfigError({ source: `flag ${flagName(key)}`, key, problem: "needs a value" });
  }
  return { value: next, nextIndex: index + 2 };
}

export function readEnvironment(
  schema: ConfigSchema,
  env: Readonly<Record<string, string | undefined>>,
  envPrefix: string,
): RawSettings {
  const keysByName = new Map(
    Object.keys(schema).map((key) => [environmentVariableName(key, envPrefix), key]),
  );
  const settings = new Map<string, RawSetting>();
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith(envPrefix) || value === undefined) continue;
    const source = `environment variable ${name}`;
    const key = keysByName.get(name);
    if (key === undefined) {
      const suggestion = closestMatch(name, [...keysByName.keys()]);
      const hint = suggestion === undefined ? "" : ` (did you mean ${suggestion}?)`;
      throw new ConfigError({ source, problem: `matches no config key${hint}` });
    }
    settings.set(key, { raw: value, origin: "text", source });
  }
  return settings;
}

export function readConfigFile(schema: ConfigSchema, path: string): RawSettings {
  const source = `config file ${path}`;
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw new ConfigError({ source, problem: `cannot be read: ${(error as Error).message}` });
  }
  let document: Record<string, unknown>;
  try {
    document = parseToml(text, { unsafeKeyBehaviour: "throw" });
  } catch (error) {
    const detail = error instanceof TomlError ? error.message : String(error);
    throw new ConfigError({ source, problem: `is not valid TOML: ${detail}` });
  }
  const settings = new Map<string, RawSetting>();
  collectTable(schema, document, "", source, settings);
  return settings;
}

/** Recurses only into tables that prefix some schema key, so depth is bounded by the schema's depth. */
function collectTable(
  schema: ConfigSchema,
  table: Record<string, unknown>,
  tablePath: string,
  source: string,
  settings: Map<string, RawSetting>,
): void {
  for (const [name, value] of Object.entries(table)) {
    const key = tablePath === "" ? name : `${tablePath}.${name}`;
    if (Object.hasOwn(schema, key)) {
      settings.set(key, { raw: value, origin: "typed", source });
    } else if (isTable(value) && Object.keys(schema).some((known) => known.startsWith(`${key}.`))) {
      collectTable(schema, value, key, source, settings);
    } else {
      throw unknownKey(source, key, schema);
    }
  }
}

function isTable(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof Date);
}

function unknownKey(source: string, key: string, schema: ConfigSchema): ConfigError {
  const suggestion = closestMatch(key, Object.keys(schema));
  const hint = suggestion === undefined ? "" : ` (did you mean "${suggestion}"?)`;
  return new ConfigError({ source, key, problem: `key "${key}" is unknown${hint}` });
}

/** The candidate within a typo's reach (edit distance ≤ a third of the name, at least 2), if any. */
export function closestMatch(name: string, candidates: readonly string[]): string | undefined {
  const reach = Math.max(2, Math.floor(name.length / 3));
  let best: string | undefined;
  let bestDistance = reach + 1;
  for (const candidate of candidates) {
    const distance = editDistance(name, candidate);
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

function editDistance(left: string, right: string): number {
  let previousRow = Array.from({ length: right.length + 1 }, (_, column) => column);
  for (let row = 1; row <= left.length; row++) {
    const currentRow = [row];
    for (let column = 1; column <= right.length; column++) {
      const substitution = previousRow[column - 1]! + (left[row - 1] === right[column - 1] ? 0 : 1);
      currentRow.push(Math.min(substitution, previousRow[column]! + 1, currentRow[column - 1]! + 1));
    }
    previousRow = currentRow;
  }
  return previousRow[right.length]!;
}
