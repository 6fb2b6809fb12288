import { CodecError } from "./codec-error.ts";

export const UINT64_MAX = (1n << 64n) - 1n;
export const INT64_MIN = -(1n << 63n);
export const INT64_MAX = (1n << 63n) - 1n;

/** A bigint can be any size; encoders check the range so an oversized value is never silently wrapped. */
export function requireUint64(value: bigint): void {
  if (value < 0n || value > UINT64_MAX) {
    throw new CodecError("out-of-range", `${value} is outside the uint64 range [0, 2^64-1]`);
  }
}

export function requireInt64(value: bigint): void {
  if (value < INT64_MIN || value > INT64_MAX) {
    throw new CodecError("out-of-range", `${value} is outside the int64 range [-2^63, 2^63-1]`);
  }
}
