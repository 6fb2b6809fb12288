/** Failures the CLI reports as one line on stderr, each with its exit code. */

/** The command line is wrong; the message says how, and the exit code is 2 like most Unix tools. */
export class UsageError extends Error {
  readonly exitCode = 2;

  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** The command was understood but could not be carried out (pd unreachable, pd refused). Exit code 1. */
export class CommandError extends Error {
  readonly exitCode = 1;

  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "CommandError";
  }
}
