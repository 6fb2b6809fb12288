/**
 * The 64-bit hash that names a locked key to the deadlock detector and the lock-wait manager: FNV-1a 64
 * over the raw user key. Stable across processes and versions (every store hashes a key the same way,
 * and the detector compares hashes from different stores), and cheap. Collisions are harmless: the
 * detector only tells apart edges between the same two transactions by it, and the manager compares the
 * keys themselves.
 */

const OFFSET_BASIS_HIGH = 0xcbf29ce4;
const OFFSET_BASIS_LOW = 0x84222325;
/** The FNV 64-bit prime is 2^40 + 0x1b3. */
const PRIME_LOW = 0x1b3;
const TWO_TO_THE_32 = 2 ** 32;

/**
 * Computed on two 32-bit halves, since bigint arithmetic per byte is several times slower: h · prime =
 * h · 0x1b3 + (h << 40) modulo 2^64, where only the low word's bits reach the high word through << 40.
 */
export function keyHash(key: Uint8Array): bigint {
  let high = OFFSET_BASIS_HIGH;
  let low = OFFSET_BASIS_LOW;
  for (const byte of key) {
    low = (low ^ byte) >>> 0;
    // Below 2^41, so exact as a double.
    const lowProduct = low * PRIME_LOW;
    const carry = Math.floor(lowProduct / TWO_TO_THE_32);
    high = (Math.imul(high, PRIME_LOW) + carry + (low << 8)) >>> 0;
    low = lowProduct >>> 0;
  }
  return (BigInt(high) << 32n) | BigInt(low);
}
