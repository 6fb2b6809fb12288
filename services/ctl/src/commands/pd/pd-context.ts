/** What every `pd` subcommand receives and returns. */
import type { PdHttpClient } from "../../http.ts";

export interface PdCommandContext {
  readonly http: PdHttpClient;
  /** Positional arguments after the subcommand name, e.g. ["show", "4"] for `pd store show 4`. */
  readonly args: readonly string[];
  /** `--limit` as given, for `region list`. */
  readonly limit: string | undefined;
  /** `--hex`: `region key` takes the key in hex. */
  readonly hexKey: boolean;
}

/** `json` is printed with --json (pd's own answer where there is one), `text` otherwise. */
export interface CommandResult {
  readonly json: unknown;
  readonly text: string;
}

export type PdSubcommand = (context: PdCommandContext) => Promise<CommandResult>;

export const API = "/pd/api/v1";
