/*
 * Table and index keys will chain several encodings in one key. These tests chain all the memcomparable
 * kinds, written with the write* functions into one preallocated buffer, and check that the chain
 * decodes back field by field and sorts like the tuples it holds (field by field, each in its direction).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  decodeBytes,
  decodeBytesDesc,
  encodedBytesLength,
  writeBytes,
  writeBytesDesc,
} from "./memcomparable-bytes.ts";
import { decodeFloat64, FLOAT_SIZE, writeFloat64 } from "./memcomparable-float.ts";
import {
  decodeInt64,
  decodeUint64Desc,
  INTEGER_SIZE,
  writeInt64,
  writeUint64Desc,
} from "./memcomparable-integer.ts";
import {
  byteString,
  compareValues,
  float64,
  int64,
  oracleCompareBytes,
  RUNS,
  uint64,
} from "./testing/fixtures.ts";

interface Row {
  readonly name: Uint8Array;
  readonly id: bigint;
  readonly score: number;
  readonly tag: Uint8Array;
  readonly version: bigint;
}

const row = fc.record({
  name: byteString,
  id: int64,
  score: float64.map((value) => (value === 0 ? 0 : value)),
  tag: byteString,
  version: uint64,
});

/** Small pools make equal leading fields common, so later fields and their directions decide the order. */
const rowFromPools = fc.record({
  name: fc.constantFrom(Uint8Array.from([]), Uint8Array.from([1]), Uint8Array.from([1, 0])),
  id: fc.constantFrom(-1n, 0n),
  score: fc.constantFrom(-1.5, 0, 2),
  tag: fc.constantFrom(Uint8Array.from([0xff]), Uint8Array.from([0xff, 0xff])),
  version: fc.constantFrom(0n, 7n),
});

function encodeRow(value: Row): Uint8Array {
  const size =
    encodedBytesLength(value.name.length) +
    encodedBytesLength(value.tag.length) +
    2 * INTEGER_SIZE +
    FLOAT_SIZE;
  const key = new Uint8Array(size);
  let offset = writeBytes(key, 0, value.name);
  offset = writeInt64(key, offset, value.id);
  offset = writeFloat64(key, offset, value.score);
  offset = writeBytesDesc(key, offset, value.tag);
  offset = writeUint64Desc(key, offset, value.version);
  assert.equal(offset, size);
  return key;
}

function decodeRow(key: Uint8Array): Row {
  const name = decodeBytes(key, 0);
  const id = decodeInt64(key, name.nextOffset);
  const score = decodeFloat64(key, id.nextOffset);
  const tag = decodeBytesDesc(key, score.nextOffset);
  const version = decodeUint64Desc(key, tag.nextOffset);
  assert.equal(version.nextOffset, key.length);
  return { name: name.value, id: id.value, score: score.value, tag: tag.value, version: version.value };
}

function compareRows(left: Row, right: Row): number {
  return (
    oracleCompareBytes(left.name, right.name) ||
    compareValues(left.id, right.id) ||
    compareValues(left.score, right.score) ||
    oracleCompareBytes(right.tag, left.tag) ||
    compareValues(right.version, left.version)
  );
}

describe("compound keys", () => {
  it("decode back field by field", () => {
    fc.assert(
      fc.property(row, (value) => {
        // fast-check builds records without a prototype; the spread gives the plain object decodeRow returns.
        assert.deepEqual(decodeRow(encodeRow(value)), { ...value });
      }),
      RUNS,
    );
  });

  it("sort like their tuples, honouring each field's direction", () => {
    const rows = fc.oneof(row, rowFromPools);
    fc.assert(
      fc.property(rows, rows, (left, right) => {
        assert.equal(oracleCompareBytes(encodeRow(left), encodeRow(right)), compareRows(left, right));
      }),
      RUNS,
    );
  });
});
