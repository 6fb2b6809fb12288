/**
 * A pd timestamp as one `bigint`: `physical_ms << 18 | logical`. One number is the primary form because
 * transactions compare, store and encode timestamps far more often than they look inside them; the split
 * helpers exist for logs, tools and the TSO batch arithmetic.
 */

export const LOGICAL_BITS = 18;
/** Timestamps pd can hand out within one physical millisecond. */
export const LOGICAL_LIMIT = 1 << LOGICAL_BITS;

const LOGICAL_BITS_BIGINT = BigInt(LOGICAL_BITS);
const LOGICAL_MASK = (1n << LOGICAL_BITS_BIGINT) - 1n;

export interface SplitTimestamp {
  /** Milliseconds since the Unix epoch. */
  readonly physicalMs: bigint;
  /** Counter within the millisecond, in [0, 2^18). */
  readonly logical: bigint;
}

export function composeTimestamp(physicalMs: bigint, logical: bigint): bigint {
  if (physicalMs < 0n)
    throw new RangeError(`timestamp physical part must not be negative, got ${physicalMs}`);
  if (logical < 0n || logical > LOGICAL_MASK) {
    throw new RangeError(`timestamp logical part must be in [0, 2^${LOGICAL_BITS}), got ${logical}`);
  }
  return (physicalMs << LOGICAL_BITS_BIGINT) | logical;
}

export function splitTimestamp(timestamp: bigint): SplitTimestamp {
  return { physicalMs: timestamp >> LOGICAL_BITS_BIGINT, logical: timestamp & LOGICAL_MASK };
}

export function physicalMsOf(timestamp: bigint): bigint {
  return timestamp >> LOGICAL_BITS_BIGINT;
}

export function logicalOf(timestamp: bigint): bigint {
  return timestamp & LOGICAL_MASK;
}
