import { asBuffer, type NativeRange } from "./native-binding.ts";

/** Bounds of a scan; at most one lower (`gt`/`gte`) and one upper (`lt`/`lte`) bound. */
export interface KeyRange {
  readonly gt?: Uint8Array;
  readonly gte?: Uint8Array;
  readonly lt?: Uint8Array;
  readonly lte?: Uint8Array;
}

/**
 * Keys are bounded so an unbounded reverse scan of a snapshot can seek to a key above every stored key
 * (the binding cannot seek "to the last key" once an iterator has moved). 16 KiB leaves room for a
 * memcomparable-encoded 8 KiB user key plus a timestamp.
 */
export const MAX_KEY_BYTES = 16 * 1024;

/** Sorts after every key of at most MAX_KEY_BYTES bytes. */
export const KEY_ABOVE_ALL = Buffer.alloc(MAX_KEY_BYTES + 1, 0xff);

/** The smallest key we accept; empty keys are rejected because the binding cannot seek to them. */
export const SMALLEST_KEY = Buffer.from([0]);

/** Returns a problem description, or undefined when the key is acceptable. */
export function keyProblem(key: Uint8Array): string | undefined {
  if (key.length === 0) return "empty keys are not supported";
  if (key.length > MAX_KEY_BYTES) return `key of ${key.length} bytes exceeds ${MAX_KEY_BYTES} bytes`;
  return undefined;
}

export function rangeProblem(range: KeyRange): string | undefined {
  if (range.gt !== undefined && range.gte !== undefined) return "both gt and gte given";
  if (range.lt !== undefined && range.lte !== undefined) return "both lt and lte given";
  return undefined;
}

export function toNativeRange(range: KeyRange): NativeRange {
  return {
    ...(range.gt && { gt: asBuffer(range.gt) }),
    ...(range.gte && { gte: asBuffer(range.gte) }),
    ...(range.lt && { lt: asBuffer(range.lt) }),
    ...(range.lte && { lte: asBuffer(range.lte) }),
  };
}

export function isAboveLowerBound(key: Uint8Array, range: KeyRange): boolean {
  if (range.gte !== undefined) return Buffer.compare(key, range.gte) >= 0;
  if (range.gt !== undefined) return Buffer.compare(key, range.gt) > 0;
  return true;
}

export function isBelowUpperBound(key: Uint8Array, range: KeyRange): boolean {
  if (range.lt !== undefined) return Buffer.compare(key, range.lt) < 0;
  if (range.lte !== undefined) return Buffer.compare(key, range.lte) <= 0;
  return true;
}
