/**
 * What every pd-facing command shares: the common options, where pd is (`--pd`, else TESSERA_PD_HTTP, else
 * the local default), and printing a result as a table or as JSON with its exit code.
 */
import { type ParseArgsConfig, parseArgs } from "node:util";
import { UsageError } from "../cli-errors.ts";
import type { CliIo } from "../cli-io.ts";
import { DEFAULT_PD_HTTP_URL, PdHttpClient } from "../http.ts";
import type { CommandResult } from "./command-result.ts";

export const PD_ADDRESS_ENV = "TESSERA_PD_HTTP";

type OptionsConfig = NonNullable<ParseArgsConfig["options"]>;

interface StrictConfig<Options extends OptionsConfig> {
  readonly args: string[];
  readonly options: Options;
  readonly allowPositionals: true;
  readonly strict: true;
}

export const COMMON_OPTIONS = {
  pd: { type: "string" },
  json: { type: "boolean", default: false },
  help: { type: "boolean", short: "h", default: false },
} as const satisfies OptionsConfig;

/** Strict parsing (unknown options are usage errors); options may come before or after the positionals. */
export function parseCommandLine<const Options extends OptionsConfig>(
  argv: readonly string[],
  options: Options,
) {
  try {
    return parseArgs<StrictConfig<Options>>({
      args: [...argv],
      options,
      allowPositionals: true,
      strict: true,
    });
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
}

/** The pd HTTP address: the flag wins, then the environment, then the local playground's default. */
export function pdHttpUrl(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  if (flag !== undefined) return flag;
  const fromEnv = env[PD_ADDRESS_ENV]?.trim();
  return fromEnv === undefined || fromEnv === "" ? DEFAULT_PD_HTTP_URL : fromEnv;
}

export function pdHttpClient(flag: string | undefined, io: CliIo): PdHttpClient {
  return new PdHttpClient(pdHttpUrl(flag), { fetch: io.fetch });
}

/** Prints `result` and returns the exit code it asks for (0 unless it says otherwise). */
export function printResult(result: CommandResult, json: boolean, io: CliIo): number {
  io.stdout(json ? JSON.stringify(result.json, null, 2) : result.text);
  return result.exitCode ?? 0;
}
