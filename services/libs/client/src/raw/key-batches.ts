/** Splits a region's share of a batch into requests the store accepts: bounded in count and in bytes. */

/** Consecutive chunks of at most `maxCount` items and `maxBytes` bytes; an item over `maxBytes` goes alone. */
export function chunkBatch<Item>(
  items: readonly Item[],
  limits: { readonly maxCount: number; readonly maxBytes: number },
  sizeOf: (item: Item) => number,
): Item[][] {
  const chunks: Item[][] = [];
  let current: Item[] = [];
  let currentBytes = 0;
  for (const item of items) {
    const size = sizeOf(item);
    if (current.length > 0 && (current.length >= limits.maxCount || currentBytes + size > limits.maxBytes)) {
      chunks.push(current);
      current = [];
      currentBytes = 0;
    }
    current.push(item);
    currentBytes += size;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}
