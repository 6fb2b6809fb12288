/** Where the CLI writes and how it reaches the network; injected so tests capture output without a process. */
import type { FetchFunction } from "./http.ts";

export interface CliIo {
  /** A block of output; a newline is added. */
  stdout(text: string): void;
  stderr(text: string): void;
  readonly fetch?: FetchFunction;
}

export const processIo: CliIo = {
  stdout: (text) => process.stdout.write(`${text}\n`),
  stderr: (text) => process.stderr.write(`${text}\n`),
};
