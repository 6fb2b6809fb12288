/**
 * Loads a service's configuration. Precedence, highest first: command-line flags, environment variables,
 * the TOML config file, schema defaults — so an operator can override one setting of a shared file for one
 * process without editing the file.
 */
import { ConfigError } from "./config-error.ts";
import {
  type ConfigSchema,
  type ConfigValues,
  camelCasePath,
  environmentVariableName,
  flagName,
  validateSchemaKeys,
} from "./config-schema.ts";
import { type RawSetting, readCommandLine, readConfigFile, readEnvironment } from "./config-sources.ts";
import { convertValue, describeExpected } from "./config-values.ts";

export interface LoadConfigOptions {
  /** Arguments after the script name (`process.argv.slice(2)`); `--config <path>` selects the file. */
  readonly argv?: readonly string[];
  /** Usually `process.env`; only variables starting with `envPrefix` are read. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** e.g. "TESSERA_PD_"; `raftstore.election-timeout-ticks` is then TESSERA_PD_RAFTSTORE_ELECTION_TIMEOUT_TICKS. */
  readonly envPrefix?: string;
  /** Config file used when argv has no `--config`. */
  readonly filePath?: string;
}

/**
 * Returns the deeply frozen config. Throws `ConfigError` for an unknown key in any source, a value of the
 * wrong type, an unreadable or malformed file, or a flag without a value.
 */
export function loadConfig<const Schema extends ConfigSchema>(
  schema: Schema,
  options: LoadConfigOptions = {},
): ConfigValues<Schema> {
  validateSchemaKeys(schema);
  const commandLine = readCommandLine(schema, options.argv ?? []);
  const environment =
    options.env === undefined
      ? new Map<string, RawSetting>()
      : readEnvironment(schema, options.env, requirePrefix(options));
  const filePath = commandLine.configPath ?? options.filePath;
  const file = filePath === undefined ? new Map<string, RawSetting>() : readConfigFile(schema, filePath);
  const root: Record<string, unknown> = {};
  for (const [key, option] of Object.entries(schema)) {
    const setting = commandLine.settings.get(key) ??
      environment.get(key) ??
      file.get(key) ?? { raw: option.default, origin: "typed", source: `config schema default of "${key}"` };
    const value = convertValue(option, setting.raw, setting.origin);
    if (value === undefined) {
      throw new ConfigError({
        source: setting.source,
        key,
        problem: `value ${formatRaw(setting.raw)} is not valid for key "${key}": expected ${describeExpected(option)}`,
      });
    }
    placeValue(root, camelCasePath(key), value);
  }
  return deepFreeze(root) as ConfigValues<Schema>;
}

/** True when argv asks for help; check it before `loadConfig`, which would reject `--help` as unknown. */
export function helpRequested(argv: readonly string[]): boolean {
  return argv.includes("--help") || argv.includes("-h");
}

/** Help text for `--help`: every key with its flag, environment variable, type, default and doc. */
export function describeConfig(schema: ConfigSchema, options: { readonly envPrefix?: string } = {}): string {
  validateSchemaKeys(schema);
  const lines = ["Settings (flags override environment variables, which override the config file):", ""];
  lines.push(
    "  --config <path>",
    "      TOML config file; its tables and keys match the flag names below.",
    "",
  );
  for (const [key, option] of Object.entries(schema)) {
    const environment =
      options.envPrefix === undefined ? "" : `, env ${environmentVariableName(key, options.envPrefix)}`;
    lines.push(`  ${flagName(key)} <${option.type}>   (default ${formatRaw(option.default)}${environment})`);
    lines.push(`      ${option.doc}`);
    lines.push(`      Expects ${describeExpected(option)}.`, "");
  }
  return lines.join("\n");
}

function requirePrefix(options: LoadConfigOptions): string {
  // Without a prefix every variable in the environment (PATH, HOME …) would be an unknown key.
  if (options.envPrefix === undefined || options.envPrefix.length === 0) {
    throw new TypeError("loadConfig: env was given without a non-empty envPrefix");
  }
  return options.envPrefix;
}

function formatRaw(raw: unknown): string {
  return typeof raw === "string" || Array.isArray(raw) ? JSON.stringify(raw) : String(raw);
}

function placeValue(root: Record<string, unknown>, path: readonly string[], value: unknown): void {
  let table = root;
  for (const name of path.slice(0, -1)) {
    table[name] ??= {};
    table = table[name] as Record<string, unknown>;
  }
  table[path.at(-1)!] = value;
}

function deepFreeze<Value>(value: Value): Value {
  if (typeof value === "object" && value !== null) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}
