/**
 * Locks and MVCC records in ctl's two output forms: JSON fields (snake_case, uint64 values as decimal
 * strings so none loses precision) and table cells. Names follow tikv-ctl ("Put", "Rollback", …).
 */
import { kvrpcpb } from "#proto";
import { textFromBytes } from "../key-format.ts";
import type { TxnFormats } from "./txn-request.ts";

const LOCK_TYPE_NAMES: ReadonlyMap<kvrpcpb.Op, string> = new Map([
  [kvrpcpb.Op.PUT, "Put"],
  [kvrpcpb.Op.DEL, "Delete"],
  [kvrpcpb.Op.LOCK, "Lock"],
  [kvrpcpb.Op.PESSIMISTIC_LOCK, "Pessimistic"],
]);

const WRITE_TYPE_NAMES: ReadonlyMap<kvrpcpb.MvccWriteType, string> = new Map([
  [kvrpcpb.MvccWriteType.PUT, "Put"],
  [kvrpcpb.MvccWriteType.DELETE, "Delete"],
  [kvrpcpb.MvccWriteType.LOCK, "Lock"],
  [kvrpcpb.MvccWriteType.ROLLBACK, "Rollback"],
]);

/** A store of a newer version may send a type this ctl does not know: show its number rather than fail. */
export function lockTypeName(type: kvrpcpb.Op): string {
  return LOCK_TYPE_NAMES.get(type) ?? `Op(${type})`;
}

export function writeTypeName(type: kvrpcpb.MvccWriteType): string {
  return WRITE_TYPE_NAMES.get(type) ?? `WriteType(${type})`;
}

/** Renders keys and values in the formats the command line asked for. */
export class TxnPrinter {
  constructor(private readonly formats: TxnFormats) {}

  key(key: Uint8Array): string {
    return textFromBytes(key, this.formats.key, "--key-format");
  }

  value(value: Uint8Array): string {
    return textFromBytes(value, this.formats.value, "--value-format");
  }

  lockJson(lock: kvrpcpb.LockInfo): Record<string, unknown> {
    return {
      key: this.key(lock.key),
      primary: this.key(lock.primaryLock),
      lock_type: lockTypeName(lock.lockType),
      start_ts: lock.lockTs.toString(),
      ttl_ms: lock.lockTtlMs.toString(),
      for_update_ts: lock.lockForUpdateTs.toString(),
      min_commit_ts: lock.minCommitTs.toString(),
      use_async_commit: lock.useAsyncCommit,
      txn_size: lock.txnSize.toString(),
      secondaries: lock.secondaries.map((key) => this.key(key)),
    };
  }
}

/** A timestamp cell: "-" for 0, which in a lock means "not set" (no for_update_ts, no min_commit_ts). */
export function timestampCell(ts: bigint): string {
  return ts === 0n ? "-" : ts.toString();
}

export function yesNo(flag: boolean): string {
  return flag ? "yes" : "no";
}
