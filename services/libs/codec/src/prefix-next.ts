/**
 * The smallest key greater than every key that starts with `prefix`: the exclusive end of a prefix scan.
 * Trailing 0xFF bytes cannot be incremented, so they are dropped and the byte before them is incremented
 * (prefixNext([1, 0xFF]) = [2], not [2, 0] which would skip [2] itself).
 *
 * When `prefix` is empty or all 0xFF, every key greater than the prefix still starts with it, so no
 * finite key bounds the range; the result is then the empty array, which range ends (regions, scans)
 * read as "+infinity".
 */
export function prefixNext(prefix: Uint8Array): Uint8Array {
  let last = prefix.length - 1;
  while (last >= 0 && prefix[last] === 0xff) {
    last--;
  }
  if (last < 0) {
    return new Uint8Array(0);
  }
  const next = prefix.slice(0, last + 1);
  next[last] += 1;
  return next;
}
