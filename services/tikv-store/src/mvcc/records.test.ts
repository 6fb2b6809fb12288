import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { decodeLockRecord, encodeLockRecord, type LockRecord, type LockType } from "./lock-record.ts";
import { MvccRecordError } from "./record-bytes.ts";
import {
  decodeWriteRecord,
  encodeWriteRecord,
  SHORT_VALUE_MAX_BYTES,
  type WriteRecord,
  type WriteType,
} from "./write-record.ts";

const timestamp = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });
const shortValue = fc.uint8Array({ maxLength: SHORT_VALUE_MAX_BYTES });
const key = fc.uint8Array({ maxLength: 64 });

const writeRecord: fc.Arbitrary<WriteRecord> = fc
  .record({
    type: fc.constantFrom<WriteType>("put", "delete", "lock", "rollback"),
    startTs: timestamp,
    shortValue: fc.option(shortValue, { nil: undefined }),
    hasOverlappedRollback: fc.boolean(),
  })
  // Spread: fast-check's records have a null prototype, the decoder's a plain one.
  .map((record) => (record.type === "put" ? { ...record } : { ...record, shortValue: undefined }));

const lockRecord: fc.Arbitrary<LockRecord> = fc
  .record({
    type: fc.constantFrom<LockType>("put", "delete", "lock", "pessimistic"),
    primary: key,
    startTs: timestamp,
    ttlMs: timestamp,
    shortValue: fc.option(shortValue, { nil: undefined }),
    forUpdateTs: timestamp,
    txnSize: timestamp,
    minCommitTs: timestamp,
    useAsyncCommit: fc.boolean(),
    secondaries: fc.array(key, { maxLength: 8 }),
  })
  .map((lock) => (lock.useAsyncCommit ? { ...lock } : { ...lock, secondaries: [] }));

/** Any input either decodes or fails with MvccRecordError: corrupt data never surfaces as another error. */
function onlyRecordErrors(decode: (data: Uint8Array) => unknown): void {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 80 }), (data) => {
      try {
        decode(data);
      } catch (error) {
        assert.ok(error instanceof MvccRecordError, String(error));
      }
    }),
  );
}

describe("write records", () => {
  it("decode what they encode", () => {
    fc.assert(
      fc.property(writeRecord, (record) =>
        assert.deepEqual(decodeWriteRecord(encodeWriteRecord(record)), record),
      ),
    );
  });

  it("are a few bytes for the common case", () => {
    const record: WriteRecord = {
      type: "put",
      startTs: 446_000_000_000_000_000n,
      shortValue: Buffer.from("v"),
      hasOverlappedRollback: false,
    };
    // type + 9-byte varint + tag + length + value
    assert.equal(encodeWriteRecord(record).length, 1 + 9 + 1 + 1 + 1);
  });

  it("refuse a value on a record that does not put one, and a value over the short limit", () => {
    assert.throws(
      () =>
        encodeWriteRecord({
          type: "delete",
          startTs: 1n,
          shortValue: Uint8Array.of(1),
          hasOverlappedRollback: false,
        }),
      MvccRecordError,
    );
    assert.throws(
      () =>
        encodeWriteRecord({
          type: "put",
          startTs: 1n,
          shortValue: new Uint8Array(SHORT_VALUE_MAX_BYTES + 1),
          hasOverlappedRollback: false,
        }),
      MvccRecordError,
    );
  });

  it("reject corrupt bytes: unknown type or tag, tags out of order, a value on a rollback, truncation", () => {
    assert.throws(() => decodeWriteRecord(Uint8Array.of(0x01, 0x05)), /unknown type 0x1/);
    assert.throws(() => decodeWriteRecord(Uint8Array.of(0x50, 0x05, 0x01)), /unknown tag 0x1/);
    assert.throws(() => decodeWriteRecord(Uint8Array.of(0x50, 0x05, 0x76, 0x00, 0x52)), /out of order/);
    assert.throws(
      () => decodeWriteRecord(Uint8Array.of(0x52, 0x05, 0x76, 0x01, 0x07)),
      /rollback record carries a value/,
    );
    assert.throws(() => decodeWriteRecord(Uint8Array.of(0x50, 0x05, 0x76, 0x03, 0x07)), /runs past the end/);
    assert.throws(() => decodeWriteRecord(Uint8Array.of(0x50)), /bad start_ts/);
    assert.throws(() => decodeWriteRecord(new Uint8Array(0)), /ends before its type/);
    onlyRecordErrors(decodeWriteRecord);
  });
});

describe("lock records", () => {
  it("decode what they encode", () => {
    fc.assert(
      fc.property(lockRecord, (lock) => assert.deepEqual(decodeLockRecord(encodeLockRecord(lock)), lock)),
    );
  });

  it("refuse secondaries without async commit, and a value over the short limit", () => {
    const base: LockRecord = {
      type: "put",
      primary: Buffer.from("p"),
      startTs: 10n,
      ttlMs: 3_000n,
      shortValue: undefined,
      forUpdateTs: 0n,
      txnSize: 1n,
      minCommitTs: 0n,
      useAsyncCommit: false,
      secondaries: [],
    };
    assert.throws(
      () => encodeLockRecord({ ...base, secondaries: [Buffer.from("s")] }),
      /without async commit/,
    );
    assert.throws(
      () => encodeLockRecord({ ...base, shortValue: new Uint8Array(SHORT_VALUE_MAX_BYTES + 1) }),
      MvccRecordError,
    );
  });

  it("reject corrupt bytes: unknown tag, a secondary count past the data, truncation", () => {
    const head = [0x50, 0x01, 0x70, 0x0a, 0x0b];
    assert.throws(() => decodeLockRecord(Uint8Array.of(...head, 0x01)), /unknown tag 0x1/);
    assert.throws(() => decodeLockRecord(Uint8Array.of(...head, 0x61, 0x7f)), /secondar/);
    assert.throws(() => decodeLockRecord(Uint8Array.of(0x50, 0x05, 0x70)), /primary runs past the end/);
    onlyRecordErrors(decodeLockRecord);
  });
});
