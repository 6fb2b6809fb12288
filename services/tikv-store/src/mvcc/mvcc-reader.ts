/**
 * Reads one key's MVCC state: its lock, its versions (newest first), a transaction's own commit or
 * rollback record, and the value a version points to. Shared by the transactional actions and the
 * snapshot reads; every read goes through MvccStorage.
 */
import { appendTs, decodeMvccKeyTs, encodeBytes, prefixNext, UINT64_MAX } from "#codec";
import { decodeLockRecord, type LockRecord } from "./lock-record.ts";
import type { MvccStorage } from "./mvcc-storage.ts";
import { PagedCursor } from "./paged-cursor.ts";
import { decodeWriteRecord, type WriteRecord } from "./write-record.ts";

export const TS_MAX = UINT64_MAX;

export interface WriteVersion {
  readonly commitTs: bigint;
  readonly write: WriteRecord;
}

/** What a key's write column family says about one transaction. */
export type TxnCommitRecord =
  | { readonly kind: "committed"; readonly commitTs: bigint; readonly write: WriteRecord }
  | { readonly kind: "rolled-back" }
  /**
   * Nothing of the transaction. `overlapped` is another transaction's commit record sitting at
   * commit_ts = this start_ts: a rollback of this transaction must be marked on it, not written over it.
   */
  | { readonly kind: "none"; readonly overlapped: WriteVersion | undefined };

/** A version whose value should be in the default column family is not: the data is damaged. */
export class MissingValueError extends Error {
  override readonly name = "MissingValueError";
  constructor(
    readonly keyHex: string,
    readonly startTs: bigint,
  ) {
    super(
      `key ${keyHex}: the value written at start_ts ${startTs} is missing from the default column family`,
    );
  }
}

export class MvccReader {
  constructor(readonly storage: MvccStorage) {}

  async loadLock(key: Uint8Array): Promise<LockRecord | undefined> {
    const bytes = await this.storage.get("lock", encodeBytes(key));
    return bytes === undefined ? undefined : decodeLockRecord(bytes);
  }

  /** Versions with commit_ts ≤ `fromTs`, newest first, of every type. */
  async *versions(key: Uint8Array, fromTs: bigint = TS_MAX): AsyncGenerator<WriteVersion> {
    const encoded = encodeBytes(key);
    const cursor = new PagedCursor(
      this.storage,
      "write",
      { gte: appendTs(encoded, fromTs), lt: prefixNext(encoded) },
      false,
      16,
    );
    for (let entry = await cursor.peek(); entry !== undefined; entry = await cursor.peek()) {
      cursor.advance();
      yield { commitTs: decodeMvccKeyTs(entry.key), write: decodeWriteRecord(entry.value) };
    }
  }

  /** The exact record at (key, commitTs), if any. */
  async writeAt(key: Uint8Array, commitTs: bigint): Promise<WriteRecord | undefined> {
    const bytes = await this.storage.get("write", appendTs(encodeBytes(key), commitTs));
    return bytes === undefined ? undefined : decodeWriteRecord(bytes);
  }

  /** The newest Put or Delete with commit_ts ≤ ts: the version a reader at ts sees. */
  async visibleWrite(key: Uint8Array, ts: bigint): Promise<WriteVersion | undefined> {
    for await (const version of this.versions(key, ts)) {
      if (version.write.type === "put" || version.write.type === "delete") return version;
    }
    return undefined;
  }

  /** The value a reader at ts sees, or undefined when the key is absent (never written or deleted). */
  async visibleValue(key: Uint8Array, ts: bigint): Promise<Uint8Array | undefined> {
    const version = await this.visibleWrite(key, ts);
    if (version === undefined || version.write.type === "delete") return undefined;
    return this.loadValue(key, version.write);
  }

  /** A Put version's value: inline, or in the default column family at its start_ts. */
  async loadValue(
    key: Uint8Array,
    write: { readonly startTs: bigint; readonly shortValue?: Uint8Array },
  ): Promise<Uint8Array> {
    if (write.shortValue !== undefined) return write.shortValue;
    const value = await this.storage.get("default", appendTs(encodeBytes(key), write.startTs));
    if (value === undefined) throw new MissingValueError(Buffer.from(key).toString("hex"), write.startTs);
    return value;
  }

  /**
   * Finds what happened to transaction `startTs` on `key`. Its commit record has commit_ts ≥ start_ts, so
   * only those versions are read; a rollback sits at exactly start_ts.
   */
  async txnCommitRecord(key: Uint8Array, startTs: bigint): Promise<TxnCommitRecord> {
    let overlapped: WriteVersion | undefined;
    for await (const version of this.versions(key, TS_MAX)) {
      if (version.commitTs < startTs) break;
      const { write, commitTs } = version;
      if (write.startTs === startTs) {
        if (write.type === "rollback") return { kind: "rolled-back" };
        return { kind: "committed", commitTs, write };
      }
      if (commitTs === startTs) {
        if (write.hasOverlappedRollback) return { kind: "rolled-back" };
        overlapped = version;
      }
    }
    return { kind: "none", overlapped };
  }
}
