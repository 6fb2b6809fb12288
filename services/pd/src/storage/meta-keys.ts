/**
 * pd's key layout under the backend root. Ids are zero-padded to 20 digits (the width of 2^64 - 1) so that
 * string order equals numeric order and a range load returns stores and regions sorted by id.
 */
export const CLUSTER_ID_KEY = "cluster_id";
export const BOOTSTRAP_KEY = "bootstrap";
export const TSO_WINDOW_KEY = "tso/window";
export const ID_NEXT_KEY = "id/next";
export const GC_SAFE_POINT_KEY = "gc/safe_point";
export const STORE_KEY_PREFIX = "raft/s/";
export const REGION_KEY_PREFIX = "raft/r/";
export const SCHEDULE_KEY_PREFIX = "schedule/";

const ID_DIGITS = 20;

export function paddedId(id: bigint): string {
  if (id < 0n || id >= 1n << 64n) throw new RangeError(`id ${id} is not an unsigned 64-bit integer`);
  return id.toString().padStart(ID_DIGITS, "0");
}

export function storeKey(storeId: bigint): string {
  return STORE_KEY_PREFIX + paddedId(storeId);
}

export function regionKey(regionId: bigint): string {
  return REGION_KEY_PREFIX + paddedId(regionId);
}

/** The exclusive end of every key starting with `prefix` (for loadRange). */
export function prefixEnd(prefix: string): string {
  if (prefix.length === 0) return "";
  return prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1);
}
