/**
 * One-line renderings of MVCC records, key errors and storage modifications for the action scripts.
 * Fields at their zero value are left out, as the record codecs leave them out, so a line shows what
 * the action actually set.
 */
import { decodeBytes, decodeMvccKey } from "#codec";
import type { KeyError } from "../../mvcc/key-error.ts";
import { decodeLockRecord, type LockRecord } from "../../mvcc/lock-record.ts";
import type { MvccEntry, TxnColumnFamily } from "../../mvcc/mvcc-storage.ts";
import type { Modify } from "../../mvcc/mvcc-txn.ts";
import { decodeWriteRecord, type WriteRecord } from "../../mvcc/write-record.ts";
import { formatKey, formatTimestamp, formatValue } from "./script-values.ts";

export function formatLock(lock: LockRecord): string {
  const parts = [
    lock.type,
    `primary=${formatKey(lock.primary)}`,
    `start=${formatTimestamp(lock.startTs)}`,
    `ttl=${lock.ttlMs}`,
  ];
  if (lock.shortValue !== undefined) parts.push(`value=${formatValue(lock.shortValue)}`);
  if (lock.forUpdateTs > 0n) parts.push(`for-update=${formatTimestamp(lock.forUpdateTs)}`);
  if (lock.txnSize > 0n) parts.push(`txn-size=${lock.txnSize}`);
  if (lock.minCommitTs > 0n) parts.push(`min-commit=${formatTimestamp(lock.minCommitTs)}`);
  if (lock.useAsyncCommit) parts.push(`async secondaries=(${lock.secondaries.map(formatKey).join(",")})`);
  return parts.join(" ");
}

export function formatWrite(write: WriteRecord): string {
  const parts = [write.type, `start=${formatTimestamp(write.startTs)}`];
  if (write.shortValue !== undefined) parts.push(`value=${formatValue(write.shortValue)}`);
  if (write.hasOverlappedRollback) parts.push("overlapped-rollback");
  return parts.join(" ");
}

export function formatKeyError(error: KeyError): string {
  switch (error.kind) {
    case "locked":
      return `locked ${formatKey(error.key)} (${formatLock(error.lock)})`;
    case "conflict":
      return (
        `conflict ${formatKey(error.key)} primary=${formatKey(error.primary)} ` +
        `start=${formatTimestamp(error.startTs)} conflict-start=${formatTimestamp(error.conflictStartTs)} ` +
        `conflict-commit=${formatTimestamp(error.conflictCommitTs)}`
      );
    case "already-exist":
      return `already-exist ${formatKey(error.key)}`;
    case "abort":
      return `abort: ${error.reason}`;
    case "deadlock":
      return `deadlock lock-ts=${formatTimestamp(error.lockTs)} key=${formatKey(error.lockKey)}`;
    case "commit-ts-expired":
      return (
        `commit-ts-expired ${formatKey(error.key)} start=${formatTimestamp(error.startTs)} ` +
        `attempted=${formatTimestamp(error.attemptedCommitTs)} min-commit=${formatTimestamp(error.minCommitTs)}`
      );
    case "txn-not-found":
      return `txn-not-found start=${formatTimestamp(error.startTs)} primary=${formatKey(error.primaryKey)}`;
    case "commit-ts-too-large":
      return `commit-ts-too-large commit=${formatTimestamp(error.commitTs)}`;
    default:
      return error satisfies never;
  }
}

/** `lock k1`, `write k1@15` or `default k1@10`: where an entry of a column family sits. */
function formatLocation(cf: TxnColumnFamily, encodedKey: Uint8Array): string {
  if (cf === "lock") return `lock ${formatKey(decodeBytes(encodedKey, 0).value)}`;
  const { userKey, ts } = decodeMvccKey(encodedKey);
  return `${cf} ${formatKey(userKey)}@${formatTimestamp(ts)}`;
}

function formatStoredValue(cf: TxnColumnFamily, value: Uint8Array): string {
  if (cf === "lock") return formatLock(decodeLockRecord(value));
  if (cf === "write") return formatWrite(decodeWriteRecord(value));
  return formatValue(value);
}

export function formatEntry(cf: TxnColumnFamily, entry: MvccEntry): string {
  return `${formatLocation(cf, entry.key)}: ${formatStoredValue(cf, entry.value)}`;
}

/** `+ write k1@15: put start=10` for a put, `- lock k1` for a delete. */
export function formatModify(modify: Modify): string {
  if (modify.type === "delete") return `- ${formatLocation(modify.cf, modify.key)}`;
  return `+ ${formatLocation(modify.cf, modify.key)}: ${formatStoredValue(modify.cf, modify.value)}`;
}
