/**
 * The write-conflict check of prewrite and pessimistic lock: a version committed at or after `threshold`
 * means the transaction's view of the key is stale. Other transactions' Rollback records change nothing
 * and are stepped over.
 */
import type { KeyError } from "../../mvcc/key-error.ts";
import type { MvccReader } from "../../mvcc/mvcc-reader.ts";

export async function newerVersionConflict(
  reader: MvccReader,
  key: Uint8Array,
  primary: Uint8Array,
  startTs: bigint,
  threshold: bigint,
): Promise<KeyError | undefined> {
  for await (const { commitTs, write } of reader.versions(key)) {
    if (commitTs < threshold) return undefined;
    if (write.type === "rollback") continue;
    if (write.startTs === startTs) continue;
    return {
      kind: "conflict",
      key,
      primary,
      startTs,
      conflictStartTs: write.startTs,
      conflictCommitTs: commitTs,
    };
  }
  return undefined;
}
