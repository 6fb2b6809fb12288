/**
 * Chained entry hashes: the hash at index i covers the term, type and data of every entry up to i. Two
 * logs with the same chained hash at an index therefore agree on their whole prefix, which lets the
 * checker test Raft's log-matching property with one map lookup per entry instead of comparing logs.
 *
 * Two independent 32-bit lanes give 53 bits, the most a JavaScript number holds exactly; a collision
 * can only hide a violation, never invent one.
 */

const TWO_POW_32 = 4_294_967_296;
const HIGH_LANE_MASK = 0x1fffff;

/** The chained hash of the empty log and of the log before the bootstrap snapshot. */
export const EMPTY_LOG_HASH = 0;

export interface HashableEntry {
  readonly term: number;
  readonly type: number;
  readonly data: Uint8Array;
}

export function extendHash(previous: number, entry: HashableEntry): number {
  let low = (previous % TWO_POW_32) ^ Math.imul(entry.term, 0x9e3779b1) ^ (entry.type << 29);
  let high = Math.floor(previous / TWO_POW_32) ^ Math.imul(entry.term + 1, 0x85ebca6b) ^ entry.type;
  const data = entry.data;
  for (let offset = 0; offset < data.length; offset++) {
    low = Math.imul(low ^ data[offset]!, 0x01000193);
    high = Math.imul(high ^ data[offset]!, 0x5bd1e995);
  }
  low = finalize(low ^ data.length);
  high = finalize(high ^ Math.imul(data.length, 0x27d4eb2f));
  return (high & HIGH_LANE_MASK) * TWO_POW_32 + (low >>> 0);
}

// murmur3's fmix32: every input bit affects every output bit.
function finalize(value: number): number {
  value ^= value >>> 16;
  value = Math.imul(value, 0x85ebca6b);
  value ^= value >>> 13;
  value = Math.imul(value, 0xc2b2ae35);
  return value ^ (value >>> 16);
}
