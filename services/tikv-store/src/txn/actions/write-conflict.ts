/**
 * The write-conflict check of prewrite and pessimistic lock: a version committed at or after `threshold`
 * means the transaction's view of the key is stale. Other transactions' Rollback records change nothing
 * and are stepped over.
 */
import type { KeyError } from "../../mvcc/key-error.ts";
import type { MvccReader, TxnCommitRecord, WriteVersion } from "../../mvcc/mvcc-reader.ts";

export async function newerVersionConflict(
  reader: MvccReader,
  key: Uint8Array,
  primary: Uint8Array,
  startTs: bigint,
  threshold: bigint,
): Promise<KeyError | undefined> {
  for await (const version of reader.versions(key)) {
    if (version.commitTs < threshold) return undefined;
    if (conflicts(version, startTs)) return conflictError(key, primary, startTs, version);
  }
  return undefined;
}

export interface NewerVersions {
  /** What the key says about transaction `startTs` itself (as MvccReader.txnCommitRecord). */
  readonly record: TxnCommitRecord;
  /** The newest version at or after the threshold written by another transaction. */
  readonly conflict: WriteVersion | undefined;
}

/**
 * Prewrite's two questions about the versions at or after start_ts — did this transaction already commit
 * or roll back here, and did another one commit since it read — answered in one pass over them (the
 * threshold is never below start_ts), instead of a scan for each.
 */
export async function newerVersions(
  reader: MvccReader,
  key: Uint8Array,
  startTs: bigint,
  threshold: bigint,
): Promise<NewerVersions> {
  let conflict: WriteVersion | undefined;
  let overlapped: WriteVersion | undefined;
  for await (const version of reader.versions(key)) {
    const { commitTs, write } = version;
    if (commitTs < startTs) break;
    if (write.startTs === startTs) {
      const record: TxnCommitRecord =
        write.type === "rollback" ? { kind: "rolled-back" } : { kind: "committed", commitTs, write };
      return { record, conflict };
    }
    if (commitTs === startTs) {
      if (write.hasOverlappedRollback) return { record: { kind: "rolled-back" }, conflict };
      overlapped = version;
    }
    if (conflict === undefined && commitTs >= threshold && conflicts(version, startTs)) conflict = version;
  }
  return { record: { kind: "none", overlapped }, conflict };
}

export function conflictError(
  key: Uint8Array,
  primary: Uint8Array,
  startTs: bigint,
  version: WriteVersion,
): KeyError {
  return {
    kind: "conflict",
    key,
    primary,
    startTs,
    conflictStartTs: version.write.startTs,
    conflictCommitTs: version.commitTs,
  };
}

function conflicts(version: WriteVersion, startTs: bigint): boolean {
  return version.write.type !== "rollback" && version.write.startTs !== startTs;
}
