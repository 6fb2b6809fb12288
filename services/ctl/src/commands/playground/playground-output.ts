/**
 * Where the playground writes. On a terminal the status line is redrawn in place; into a file or pipe
 * each status becomes its own line, so logs of a playground run read as a plain timeline.
 */
import type { CliIo } from "../../cli-io.ts";

export interface PlaygroundOutput {
  readonly line: (text: string) => void;
  readonly error: (text: string) => void;
  readonly status: (text: string) => void;
}

/** The slice of a terminal stream this needs. */
export interface TerminalStream {
  readonly isTTY?: boolean;
  write(text: string): unknown;
}

const CLEAR_LINE = "\r\u001b[2K";

export function createPlaygroundOutput(io: CliIo, terminal: TerminalStream): PlaygroundOutput {
  if (terminal.isTTY !== true) return { line: io.stdout, error: io.stderr, status: io.stdout };
  let statusShown = false;
  const endStatus = (): void => {
    if (statusShown) terminal.write(CLEAR_LINE);
    statusShown = false;
  };
  return {
    line: (text) => {
      endStatus();
      io.stdout(text);
    },
    error: (text) => {
      endStatus();
      io.stderr(text);
    },
    status: (text) => {
      terminal.write(`${CLEAR_LINE}${text}`);
      statusShown = true;
    },
  };
}
