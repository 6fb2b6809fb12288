/** What a command hands back to be printed: `json` with --json (pd's own answer where there is one), `text` otherwise. */
export interface CommandResult {
  readonly json: unknown;
  readonly text: string;
  /** 1 when the answer itself is bad news (a missing key, an unhealthy cluster); 0 when absent. */
  readonly exitCode?: number;
}
