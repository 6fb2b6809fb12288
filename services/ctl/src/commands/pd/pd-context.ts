/** What every `pd` subcommand receives and returns. */
import type { PdHttpClient } from "../../http.ts";
import type { CommandResult } from "../command-result.ts";
import type { ByteFormat } from "../key-format.ts";

export interface PdCommandContext {
  readonly http: PdHttpClient;
  /** Positional arguments after the subcommand name, e.g. ["show", "4"] for `store show 4`. */
  readonly args: readonly string[];
  /** `--limit` as given, for `region list`. */
  readonly limit: string | undefined;
  /** `--key-format` (or `--hex`): how `region key` reads its KEY. */
  readonly keyFormat: ByteFormat;
}

export type PdSubcommand = (context: PdCommandContext) => Promise<CommandResult>;

export const API = "/pd/api/v1";
