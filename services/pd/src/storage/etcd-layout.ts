/**
 * Where the etcd backend keeps things, relative to its root path. Election records and pd's metadata live
 * in separate subtrees so a range load of metadata never returns a member record.
 */
import { paddedId } from "./meta-keys.ts";

export const LEADER_KEY = "election/leader";
export const MEMBERS_PREFIX = "election/members/";
export const DATA_PREFIX = "data/";

export function memberKey(memberId: bigint): string {
  return MEMBERS_PREFIX + paddedId(memberId);
}

export function dataKey(key: string): string {
  return DATA_PREFIX + key;
}

/** Strips trailing slashes so "/pd/" and "/pd" name the same root; the root must not be empty. */
export function normaliseRootPath(rootPath: string): string {
  const trimmed = rootPath.replace(/\/+$/, "");
  if (trimmed.length === 0) throw new RangeError(`etcd root path must not be empty, got "${rootPath}"`);
  return trimmed;
}
