/**
 * The shape of a service's configuration: one flat schema whose keys are dotted kebab-case paths, the
 * spelling TiKV uses in TOML (`raftstore.election-timeout-ticks`), which is also the flag name
 * (`--raftstore.election-timeout-ticks`) and, upper-cased with `_`, the environment variable name.
 *
 * The loaded config is a nested object with camelCase names (`config.raftstore.electionTimeoutTicks`),
 * typed from the schema: nested property access reads better at call sites than string indexing, gets
 * editor completion per table, and lets a subsystem take just its table (`config.raftstore`).
 */
import { ConfigError } from "./config-error.ts";

interface OptionBase {
  /** One or two sentences for `--help`: what the setting controls and why one would change it. */
  readonly doc: string;
}

export interface StringOption extends OptionBase {
  readonly type: "string";
  readonly default: string;
}

export interface IntOption extends OptionBase {
  readonly type: "int";
  readonly default: number;
  readonly min?: number;
  readonly max?: number;
}

export interface NumberOption extends OptionBase {
  readonly type: "number";
  readonly default: number;
  readonly min?: number;
  readonly max?: number;
}

export interface BoolOption extends OptionBase {
  readonly type: "bool";
  readonly default: boolean;
}

/** Written like TiKV's durations ("100ms", "10s", "1h30m"); loaded as milliseconds. */
export interface DurationOption extends OptionBase {
  readonly type: "duration";
  readonly default: string;
}

/** Written like TiKV's sizes ("96MiB", "512KB" — binary units either way); loaded as bytes. */
export interface SizeOption extends OptionBase {
  readonly type: "size";
  readonly default: string;
}

export interface EnumOption extends OptionBase {
  readonly type: "enum";
  readonly values: readonly string[];
  readonly default: string;
}

/** Comma-separated in flags and environment variables, an array of strings in TOML. */
export interface StringListOption extends OptionBase {
  readonly type: "string-list";
  readonly default: readonly string[];
}

export type ConfigOption =
  | StringOption
  | IntOption
  | NumberOption
  | BoolOption
  | DurationOption
  | SizeOption
  | EnumOption
  | StringListOption;

export type ConfigSchema = { readonly [key: string]: ConfigOption };

/** The loaded value of one option. */
export type OptionValue<Option extends ConfigOption> = Option extends { readonly type: "string" }
  ? string
  : Option extends { readonly type: "int" | "number" | "duration" | "size" }
    ? number
    : Option extends { readonly type: "bool" }
      ? boolean
      : Option extends { readonly type: "enum"; readonly values: readonly (infer Value)[] }
        ? Value
        : Option extends { readonly type: "string-list" }
          ? readonly string[]
          : never;

export type CamelCase<Name extends string> = Name extends `${infer Head}-${infer Tail}`
  ? `${Head}${Capitalize<CamelCase<Tail>>}`
  : Name;

type NestedEntry<Path extends string, Value> = Path extends `${infer Table}.${infer Rest}`
  ? { readonly [Name in CamelCase<Table>]: NestedEntry<Rest, Value> }
  : { readonly [Name in CamelCase<Path>]: Value };

type UnionToIntersection<Union> = (Union extends unknown ? (argument: Union) => void : never) extends (
  argument: infer Intersection,
) => void
  ? Intersection
  : never;

/** Flattens the intersections below so editors show one plain object type per table. */
type Expand<Type> = Type extends readonly unknown[]
  ? Type
  : Type extends object
    ? { readonly [Name in keyof Type]: Expand<Type[Name]> }
    : Type;

/** The typed, nested, camelCase object that `loadConfig` returns for a schema. */
export type ConfigValues<Schema extends ConfigSchema> = Expand<
  UnionToIntersection<
    { [Key in keyof Schema & string]: NestedEntry<Key, OptionValue<Schema[Key]>> }[keyof Schema & string]
  >
>;

/**
 * Identity at run time; at compile time it keeps enum values as literal types so the loaded config's
 * enum fields are unions ("embedded" | "etcd") rather than string.
 */
export function defineConfigSchema<const Schema extends ConfigSchema>(schema: Schema): Schema {
  return schema;
}

const SEGMENT_PATTERN = /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/;
/** Flags the loader reserves for itself, so no schema key may use them. */
export const RESERVED_KEYS: ReadonlySet<string> = new Set(["config", "help"]);

export function camelCasePath(key: string): readonly string[] {
  return key
    .split(".")
    .map((segment) => segment.replace(/-([a-z0-9])/g, (_, next: string) => next.toUpperCase()));
}

export function flagName(key: string): string {
  return `--${key}`;
}

export function environmentVariableName(key: string, envPrefix: string): string {
  return envPrefix + key.toUpperCase().replace(/[.-]/g, "_");
}

/**
 * Rejects schemas whose keys could not be told apart from some source (a key that is also a table, two keys
 * with the same environment variable) or whose own defaults are invalid; these are programming errors, so
 * they surface on the first load in any test rather than in production.
 */
export function validateSchemaKeys(schema: ConfigSchema): void {
  const environmentNames = new Map<string, string>();
  for (const key of Object.keys(schema)) {
    const problem = keyShapeProblem(key, schema);
    if (problem !== undefined) throw new ConfigError({ source: "config schema", key, problem });
    const environmentName = environmentVariableName(key, "");
    const clash = environmentNames.get(environmentName);
    if (clash !== undefined) {
      throw new ConfigError({
        source: "config schema",
        key,
        problem: `keys "${clash}" and "${key}" map to the same environment variable suffix ${environmentName}`,
      });
    }
    environmentNames.set(environmentName, key);
  }
}

function keyShapeProblem(key: string, schema: ConfigSchema): string | undefined {
  if (RESERVED_KEYS.has(key)) return `key "${key}" is reserved for the loader`;
  const segments = key.split(".");
  if (!segments.every((segment) => SEGMENT_PATTERN.test(segment))) {
    return `key "${key}" must be dotted lower-case kebab-case segments, like "raftstore.election-timeout-ticks"`;
  }
  for (let length = 1; length < segments.length; length++) {
    const table = segments.slice(0, length).join(".");
    if (Object.hasOwn(schema, table)) return `key "${table}" is also used as the table of key "${key}"`;
  }
  const option = schema[key]!;
  if (option.type === "enum" && !option.values.includes(option.default)) {
    return `key "${key}" has default "${option.default}", which is not one of its values`;
  }
  return undefined;
}
