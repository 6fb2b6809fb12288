/**
 * How the action scripts spell timestamps, keys and values, both ways, so expected outputs can be read
 * and written by hand:
 *   timestamps  `10` (a bare TSO number), `3000ms` or `3000ms+5` (physical ms and logical part: TTLs
 *               count in physical ms, so expiry cases need real-looking timestamps);
 *   keys        UTF-8 text;
 *   values      UTF-8 text, or `c*N` for the character c repeated N times (values over 255 bytes live in
 *               the default column family, and nobody wants to read them in full); `""` is empty.
 */
import { composeTimestamp, LOGICAL_LIMIT, logicalOf, physicalMsOf } from "#codec";
import { bytes, text } from "../bytes.ts";

const TIMESTAMP = /^(\d+)(?:ms(?:\+(\d+))?)?$/;
const REPEATED = /^(.)\*(\d+)$/;
/** Values longer than this, of one repeated character, are printed as `c*N`. */
const REPEAT_PRINT_MIN = 16;

export class ScriptValueError extends Error {
  override readonly name = "ScriptValueError";
}

export function parseTimestamp(spelling: string): bigint {
  const match = TIMESTAMP.exec(spelling);
  if (match === null) throw new ScriptValueError(`bad timestamp ${JSON.stringify(spelling)}`);
  if (!spelling.includes("ms")) return BigInt(match[1]!);
  return composeTimestamp(BigInt(match[1]!), BigInt(match[2] ?? "0"));
}

export function formatTimestamp(ts: bigint): string {
  if (ts < BigInt(LOGICAL_LIMIT)) return ts.toString();
  const logical = logicalOf(ts);
  return `${physicalMsOf(ts)}ms${logical === 0n ? "" : `+${logical}`}`;
}

export function parseValue(spelling: string): Uint8Array {
  if (spelling === '""') return new Uint8Array(0);
  const match = REPEATED.exec(spelling);
  return match === null ? bytes(spelling) : bytes(match[1]!.repeat(Number(match[2])));
}

export function formatValue(value: Uint8Array): string {
  if (value.length === 0) return '""';
  const spelled = text(value)!;
  if (value.length >= REPEAT_PRINT_MIN && value.every((byte) => byte === value[0])) {
    return `${spelled[0]}*${value.length}`;
  }
  return spelled;
}

export const parseKey = bytes;

export function formatKey(key: Uint8Array): string {
  return text(key)!;
}
