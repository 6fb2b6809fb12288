/**
 * A record of the write column family, at `enc(key) ++ ~commit_ts`: what a transaction did to a key at
 * that commit timestamp. Put and Delete change the value; Lock (a key locked and committed without a
 * change) and Rollback (at `~start_ts`: the transaction will never commit this key) do not, and readers
 * step past them. A value of at most SHORT_VALUE_MAX_BYTES rides in the record itself; a longer one
 * lives in the default column family at `enc(key) ++ ~start_ts`.
 *
 * Layout: type byte, start_ts (uvarint), then optional fields by ascending tag: 'R' (0x52) the record
 * also stands for a rollback of another transaction at the same timestamp (has_overlapped_rollback),
 * 'v' (0x76) + length byte + the short value.
 */
import { MvccRecordError, RecordReader, RecordWriter } from "./record-bytes.ts";

export const SHORT_VALUE_MAX_BYTES = 255;

export type WriteType = "put" | "delete" | "lock" | "rollback";

export interface WriteRecord {
  readonly type: WriteType;
  readonly startTs: bigint;
  /** The value itself when it is short (put only). */
  readonly shortValue: Uint8Array | undefined;
  /**
   * A rollback of another transaction whose start_ts equals this record's commit_ts landed on the same
   * key and timestamp: this record stands for both, so that transaction stays rolled back.
   */
  readonly hasOverlappedRollback: boolean;
}

const TYPE_BYTES: { readonly [Type in WriteType]: number } = {
  put: 0x50,
  delete: 0x44,
  lock: 0x4c,
  rollback: 0x52,
};
const TAG_OVERLAPPED_ROLLBACK = 0x52;
const TAG_SHORT_VALUE = 0x76;

export function encodeWriteRecord(record: WriteRecord): Uint8Array {
  const writer = new RecordWriter().byte(TYPE_BYTES[record.type]).uvarint(record.startTs);
  if (record.hasOverlappedRollback) writer.byte(TAG_OVERLAPPED_ROLLBACK);
  if (record.shortValue !== undefined) {
    if (record.type !== "put") throw new MvccRecordError("write", `a ${record.type} record carries a value`);
    if (record.shortValue.length > SHORT_VALUE_MAX_BYTES) {
      throw new MvccRecordError("write", `short value of ${record.shortValue.length} bytes`);
    }
    writer.byte(TAG_SHORT_VALUE).shortBytes(record.shortValue);
  }
  return writer.finish();
}

export function decodeWriteRecord(data: Uint8Array): WriteRecord {
  const reader = new RecordReader("write", data);
  const type = reader.type(TYPE_BYTES);
  const startTs = reader.uvarint("start_ts");
  let shortValue: Uint8Array | undefined;
  let hasOverlappedRollback = false;
  while (!reader.done) {
    const tag = reader.tag();
    if (tag === TAG_OVERLAPPED_ROLLBACK) hasOverlappedRollback = true;
    else if (tag === TAG_SHORT_VALUE) shortValue = reader.shortBytes("short value");
    else throw reader.unknownTag(tag);
  }
  if (shortValue !== undefined && type !== "put") throw reader.corrupt(`a ${type} record carries a value`);
  return { type, startTs, shortValue, hasOverlappedRollback };
}
