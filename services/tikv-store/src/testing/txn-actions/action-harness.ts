/**
 * Runs Percolator actions against an in-memory store the way the scheduler does: read through an
 * MvccReader, collect into an MvccTxn, and apply the modifications only when the action reports no error
 * (a failed command writes nothing). Also keeps the store's max_ts as the scheduler does (every read_ts
 * served, and a CheckTxnStatus caller's start_ts), so async-commit and 1PC prewrites get their floor.
 */
import { compareBytes, encodeBytes } from "#codec";
import { MvccReader } from "../../mvcc/mvcc-reader.ts";
import { type Modify, MvccTxn } from "../../mvcc/mvcc-txn.ts";
import { MemoryMvccStorage } from "../memory-mvcc-storage.ts";

export class ReleasedLocksMismatchError extends Error {
  override readonly name = "ReleasedLocksMismatchError";
}

export class ActionHarness {
  storage = new MemoryMvccStorage();
  /** The highest timestamp a read (or a reader's CheckTxnStatus) was served at. */
  maxTs = 0n;

  /** Async commit and 1PC must commit above every read this store served: max_ts + 1. */
  get commitTsFloor(): bigint {
    return this.maxTs + 1n;
  }

  observeReadTs(ts: bigint): void {
    if (ts > this.maxTs) this.maxTs = ts;
  }

  /** Runs `action`; its modifications are applied, and returned, unless `failed(result)`. */
  async run<Result>(
    action: (reader: MvccReader, txn: MvccTxn) => Promise<Result>,
    failed: (result: Result) => boolean,
  ): Promise<{ readonly result: Result; readonly applied: readonly Modify[] }> {
    const txn = new MvccTxn();
    const result = await action(new MvccReader(this.storage), txn);
    if (failed(result)) return { result, applied: [] };
    checkReleasedLocks(txn);
    this.storage.apply(txn.modifies);
    return { result, applied: txn.modifies };
  }
}

/** Lock waiters are woken from the released-lock list: it must name exactly the locks the command deletes. */
function checkReleasedLocks(txn: MvccTxn): void {
  const deleted = txn.modifies
    .filter((modify) => modify.type === "delete" && modify.cf === "lock")
    .map((modify) => modify.key);
  const released = txn.releasedLocks.map((lock) => encodeBytes(lock.key));
  const same =
    deleted.length === released.length &&
    deleted.every((key, index) => compareBytes(key, released[index]!) === 0);
  if (!same) throw new ReleasedLocksMismatchError("the released locks differ from the deleted locks");
}
