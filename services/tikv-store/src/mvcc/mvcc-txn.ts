/**
 * Collects the writes of one transactional command. Actions read through an MvccReader and record here;
 * the scheduler proposes the collected modifications as one raft command, so a command's writes apply
 * atomically or not at all. It also remembers which locks the command released, so lock waiters can be
 * woken once the writes have applied.
 */
import { appendTs, encodeBytes } from "#codec";
import { encodeLockRecord, type LockRecord } from "./lock-record.ts";
import type { TxnColumnFamily } from "./mvcc-storage.ts";
import { encodeWriteRecord, type WriteRecord } from "./write-record.ts";

export type Modify =
  | {
      readonly type: "put";
      readonly cf: TxnColumnFamily;
      readonly key: Uint8Array;
      readonly value: Uint8Array;
    }
  | { readonly type: "delete"; readonly cf: TxnColumnFamily; readonly key: Uint8Array };

export interface ReleasedLock {
  readonly key: Uint8Array;
  readonly startTs: bigint;
  readonly isPessimistic: boolean;
  /** Set when the release is a commit. */
  readonly commitTs: bigint | undefined;
}

export class MvccTxn {
  readonly modifies: Modify[] = [];
  readonly releasedLocks: ReleasedLock[] = [];
  /** Bytes of keys and values collected, so the scheduler can refuse a command too large for one entry. */
  sizeBytes = 0;

  putLock(key: Uint8Array, lock: LockRecord): void {
    this.push({ type: "put", cf: "lock", key: encodeBytes(key), value: encodeLockRecord(lock) });
  }

  /** Drops the lock on `key` (held by `lock`); `commitTs` when the transaction committed it. */
  unlockKey(key: Uint8Array, lock: LockRecord, commitTs: bigint | undefined): void {
    this.push({ type: "delete", cf: "lock", key: encodeBytes(key) });
    this.releasedLocks.push({
      key,
      startTs: lock.startTs,
      isPessimistic: lock.type === "pessimistic",
      commitTs,
    });
  }

  putWrite(key: Uint8Array, commitTs: bigint, write: WriteRecord): void {
    this.push({
      type: "put",
      cf: "write",
      key: appendTs(encodeBytes(key), commitTs),
      value: encodeWriteRecord(write),
    });
  }

  deleteWrite(key: Uint8Array, commitTs: bigint): void {
    this.push({ type: "delete", cf: "write", key: appendTs(encodeBytes(key), commitTs) });
  }

  putValue(key: Uint8Array, startTs: bigint, value: Uint8Array): void {
    this.push({ type: "put", cf: "default", key: appendTs(encodeBytes(key), startTs), value });
  }

  deleteValue(key: Uint8Array, startTs: bigint): void {
    this.push({ type: "delete", cf: "default", key: appendTs(encodeBytes(key), startTs) });
  }

  /** Raw modifications by encoded key (GC works on keys it scanned, already encoded). */
  deleteEncoded(cf: TxnColumnFamily, key: Uint8Array): void {
    this.push({ type: "delete", cf, key });
  }

  get isEmpty(): boolean {
    return this.modifies.length === 0;
  }

  private push(modify: Modify): void {
    this.modifies.push(modify);
    this.sizeBytes += modify.key.length + (modify.type === "put" ? modify.value.length : 0);
  }
}
