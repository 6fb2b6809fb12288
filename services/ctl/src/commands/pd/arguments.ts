/** Checks on positional arguments, each failing with a UsageError that says what was expected. */
import { UsageError } from "../../cli-errors.ts";

const MAX_ID = (1n << 64n) - 1n;

/** A positive 64-bit id, returned as decimal text (ids above 2^53 must not pass through a JS number). */
export function parseId(text: string | undefined, what: string): string {
  if (text === undefined) throw new UsageError(`missing ${what}`);
  if (!/^\d{1,20}$/.test(text) || BigInt(text) === 0n || BigInt(text) > MAX_ID) {
    throw new UsageError(`${what} must be a positive 64-bit integer, got "${text}"`);
  }
  return BigInt(text).toString();
}

export function parsePositiveSeconds(text: string | undefined): number {
  if (text === undefined) throw new UsageError("missing SECONDS");
  const seconds = Number(text);
  if (!/^\d+(\.\d+)?$/.test(text) || !(seconds > 0)) {
    throw new UsageError(`SECONDS must be a positive number, got "${text}"`);
  }
  return seconds;
}

/** The arguments, after checking there are exactly `names.length` of them. */
export function exactly(args: readonly string[], names: readonly string[], usage: string): readonly string[] {
  if (args.length < names.length)
    throw new UsageError(`missing ${names.slice(args.length).join(" ")}; usage: ${usage}`);
  if (args.length > names.length) throw new UsageError(`unexpected "${args[names.length]}"; usage: ${usage}`);
  return args;
}

export function unknownAction(command: string, action: string, expected: string): UsageError {
  return new UsageError(`unknown ${command} action "${action}"; expected ${expected}`);
}
