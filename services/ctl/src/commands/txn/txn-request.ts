/**
 * `txn locks|mvcc` command lines turned into requests, checked completely before anything is sent, so a
 * wrong command line never touches the cluster.
 */
import { UsageError } from "../../cli-errors.ts";
import { type ByteFormat, bytesFromText, parseByteFormat } from "../key-format.ts";
import { exactly, parseId, unknownAction } from "../pd/arguments.ts";

/** Every lock: a lock's start_ts is at most the largest uint64. */
export const MAX_TIMESTAMP = (1n << 64n) - 1n;
export const DEFAULT_LOCK_LIMIT = 100;
/** ctl holds and prints every lock it lists, so it bounds how many one call may ask for. */
export const MAX_LOCK_LIMIT = 100_000;

export type TxnRequest =
  | {
      readonly kind: "locks";
      /** Only this region's locks; every region's when undefined. */
      readonly regionId: bigint | undefined;
      /** Locks whose start_ts is at most this. */
      readonly maxTs: bigint;
      readonly limit: number;
    }
  | { readonly kind: "mvcc"; readonly key: Uint8Array };

/** The txn options as parsed from the command line, before checking. */
export interface TxnFlags {
  readonly region?: string;
  readonly maxTs?: string;
  readonly limit?: string;
  readonly keyFormat?: string;
  readonly valueFormat?: string;
}

export interface TxnFormats {
  readonly key: ByteFormat;
  readonly value: ByteFormat;
}

const LOCKS_USAGE = "txn locks [--region ID] [--max-ts TS] [--limit N]";
const MVCC_USAGE = "txn mvcc KEY";
const ACTIONS = `${LOCKS_USAGE.slice("txn ".length)}, mvcc KEY`;

export function parseTxnFormats(flags: TxnFlags): TxnFormats {
  return {
    key: parseByteFormat(flags.keyFormat, "--key-format"),
    value: parseByteFormat(flags.valueFormat, "--value-format"),
  };
}

/** `args` follow `txn`: the action, then its positional arguments. */
export function parseTxnRequest(args: readonly string[], flags: TxnFlags, formats: TxnFormats): TxnRequest {
  const [action, ...rest] = args;
  if (action === undefined) throw new UsageError(`missing txn action; expected ${ACTIONS}`);
  switch (action) {
    case "locks":
      exactly(rest, [], LOCKS_USAGE);
      return {
        kind: "locks",
        regionId: flags.region === undefined ? undefined : BigInt(parseId(flags.region, "--region")),
        maxTs: parseTimestamp(flags.maxTs),
        limit: parseLockLimit(flags.limit),
      };
    case "mvcc": {
      rejectLockFlags(flags);
      const [keyText] = exactly(rest, ["KEY"], MVCC_USAGE);
      const key = bytesFromText(keyText!, formats.key, "KEY");
      // Stores refuse empty keys; saying so here gives a usage error instead of a store error.
      if (key.length === 0) throw new UsageError("KEY must not be empty");
      return { kind: "mvcc", key };
    }
    default:
      throw unknownAction("txn", action, ACTIONS);
  }
}

function parseTimestamp(text: string | undefined): bigint {
  if (text === undefined) return MAX_TIMESTAMP;
  if (!/^\d{1,20}$/.test(text) || BigInt(text) > MAX_TIMESTAMP) {
    throw new UsageError(`--max-ts must be a timestamp from 0 to ${MAX_TIMESTAMP}, got "${text}"`);
  }
  return BigInt(text);
}

function parseLockLimit(text: string | undefined): number {
  if (text === undefined) return DEFAULT_LOCK_LIMIT;
  const limit = Number(text);
  if (!/^\d+$/.test(text) || limit < 1 || limit > MAX_LOCK_LIMIT) {
    throw new UsageError(`--limit must be a whole number from 1 to ${MAX_LOCK_LIMIT}, got "${text}"`);
  }
  return limit;
}

function rejectLockFlags(flags: TxnFlags): void {
  const given = [
    flags.region === undefined ? undefined : "--region",
    flags.maxTs === undefined ? undefined : "--max-ts",
    flags.limit === undefined ? undefined : "--limit",
  ].filter((flag) => flag !== undefined);
  if (given.length > 0)
    throw new UsageError(`txn mvcc does not take ${given.join(", ")}; only txn locks does`);
}
