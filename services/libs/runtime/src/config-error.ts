/**
 * A configuration problem a person must fix. `source` names where the bad input came from — a config file
 * path, a flag, an environment variable, or the schema itself — so the message can be acted on directly.
 */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
  readonly source: string;
  readonly key: string | undefined;

  constructor(options: { readonly source: string; readonly key?: string; readonly problem: string }) {
    super(`${options.source}: ${options.problem}`);
    this.source = options.source;
    this.key = options.key;
  }
}
