/**
 * Lexicographic comparison of unsigned bytes, the order RocksDB's default comparator uses; a proper
 * prefix sorts before the longer key. Returns exactly -1, 0 or 1 so results can be compared directly.
 */
export function compareBytes(left: Uint8Array, right: Uint8Array): -1 | 0 | 1 {
  const sharedLength = Math.min(left.length, right.length);
  for (let index = 0; index < sharedLength; index++) {
    if (left[index] !== right[index]) {
      return left[index] < right[index] ? -1 : 1;
    }
  }
  return Math.sign(left.length - right.length) as -1 | 0 | 1;
}
