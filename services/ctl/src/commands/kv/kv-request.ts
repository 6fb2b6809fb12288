/**
 * `kv get|put|delete|scan` command lines turned into requests, checked completely before anything is sent
 * so a wrong command line never touches the cluster.
 */
import { UsageError } from "../../cli-errors.ts";
import { type ByteFormat, bytesFromText, parseByteFormat } from "../key-format.ts";
import { exactly, unknownAction } from "../pd/arguments.ts";

export const DEFAULT_SCAN_LIMIT = 100;
/** ctl holds and prints every pair it scans, so it bounds how many one call may ask for. */
export const MAX_SCAN_LIMIT = 100_000;

export type KvRequest =
  | { readonly kind: "get"; readonly key: Uint8Array }
  | { readonly kind: "put"; readonly key: Uint8Array; readonly value: Uint8Array }
  | { readonly kind: "delete"; readonly key: Uint8Array }
  | {
      readonly kind: "scan";
      readonly startKey: Uint8Array;
      readonly endKey: Uint8Array;
      readonly limit: number;
      readonly reverse: boolean;
    };

/** The kv options as parsed from the command line, before checking. */
export interface KvFlags {
  readonly start?: string;
  readonly end?: string;
  readonly limit?: string;
  readonly reverse: boolean;
  readonly keyFormat?: string;
  readonly valueFormat?: string;
}

export interface KvFormats {
  readonly key: ByteFormat;
  readonly value: ByteFormat;
}

const ACTIONS = "get KEY, put KEY VALUE, delete KEY, scan [--start KEY] [--end KEY] [--limit N] [--reverse]";

export function parseKvFormats(flags: KvFlags): KvFormats {
  return {
    key: parseByteFormat(flags.keyFormat, "--key-format"),
    value: parseByteFormat(flags.valueFormat, "--value-format"),
  };
}

/** `args` follow `kv`: the action, then its positional arguments. */
export function parseKvRequest(args: readonly string[], flags: KvFlags, formats: KvFormats): KvRequest {
  const [action, ...rest] = args;
  if (action === undefined) throw new UsageError(`missing kv action; expected ${ACTIONS}`);
  if (action !== "scan") rejectScanFlags(action, flags);
  const key = (text: string | undefined) => nonEmptyKey(bytesFromText(text!, formats.key, "KEY"), "KEY");
  switch (action) {
    case "get":
    case "delete":
      return { kind: action, key: key(exactly(rest, ["KEY"], `kv ${action} KEY`)[0]) };
    case "put": {
      const [keyText, valueText] = exactly(rest, ["KEY", "VALUE"], "kv put KEY VALUE");
      return { kind: "put", key: key(keyText), value: bytesFromText(valueText!, formats.value, "VALUE") };
    }
    case "scan":
      exactly(rest, [], "kv scan [--start KEY] [--end KEY] [--limit N] [--reverse]");
      return scanRequest(flags, formats.key);
    default:
      throw unknownAction("kv", action, ACTIONS);
  }
}

function scanRequest(flags: KvFlags, keyFormat: ByteFormat): KvRequest {
  const startKey = bytesFromText(flags.start ?? "", keyFormat, "--start");
  const endKey = bytesFromText(flags.end ?? "", keyFormat, "--end");
  if (endKey.length > 0 && Buffer.compare(startKey, endKey) > 0) {
    throw new UsageError(`--start "${flags.start}" is after --end "${flags.end}"; the range is [start, end)`);
  }
  return { kind: "scan", startKey, endKey, limit: parseScanLimit(flags.limit), reverse: flags.reverse };
}

function parseScanLimit(text: string | undefined): number {
  if (text === undefined) return DEFAULT_SCAN_LIMIT;
  const limit = Number(text);
  if (!/^\d+$/.test(text) || limit < 1 || limit > MAX_SCAN_LIMIT) {
    throw new UsageError(`--limit must be a whole number from 1 to ${MAX_SCAN_LIMIT}, got "${text}"`);
  }
  return limit;
}

function rejectScanFlags(action: string, flags: KvFlags): void {
  const given = [
    flags.start === undefined ? undefined : "--start",
    flags.end === undefined ? undefined : "--end",
    flags.limit === undefined ? undefined : "--limit",
    flags.reverse ? "--reverse" : undefined,
  ].filter((flag) => flag !== undefined);
  if (given.length > 0)
    throw new UsageError(`kv ${action} does not take ${given.join(", ")}; only kv scan does`);
}

/** Stores refuse empty keys; saying so here gives a usage error instead of a store error. */
function nonEmptyKey(key: Uint8Array, what: string): Uint8Array {
  if (key.length === 0) throw new UsageError(`${what} must not be empty`);
  return key;
}
