import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { rawDataKey } from "../engine/keys.ts";
import { bytes } from "../testing/bytes.ts";
import { testRegion } from "../testing/region-fixture.ts";
import {
  SnapshotDecoder,
  type SnapshotDecoderOptions,
  SnapshotEncoder,
  SnapshotFormatError,
  type SnapshotKeyValue,
  type SnapshotRecord,
} from "./snapshot-codec.ts";

const region = testRegion(3n, "b", "y");
const header = { regionId: 3n, index: 40, term: 6, region };
const expected = { regionId: 3n, index: 40, term: 6 };

function encode(pairs: readonly SnapshotKeyValue[], chunkSizeBytes: number): Uint8Array[] {
  const encoder = new SnapshotEncoder(chunkSizeBytes);
  encoder.header(header);
  const chunks: Uint8Array[] = [];
  for (const pair of pairs) {
    encoder.keyValue(pair.columnFamily, pair.key, pair.value);
    chunks.push(...encoder.takeChunks());
  }
  encoder.trailer();
  chunks.push(...encoder.takeChunks());
  return chunks;
}

function decodeAll(
  chunks: readonly Uint8Array[],
  options: SnapshotDecoderOptions = { expected },
): SnapshotRecord[] {
  const decoder = new SnapshotDecoder(options);
  const records = chunks.flatMap((chunk) => decoder.push(chunk));
  decoder.end();
  return records;
}

const pairArbitrary = fc.record({
  columnFamily: fc.constantFrom("default" as const, "lock" as const, "write" as const),
  key: fc.uint8Array({ maxLength: 20 }).map((suffix) => rawDataKey(Uint8Array.from([0x63, ...suffix]))),
  value: fc.uint8Array({ maxLength: 100 }),
});

const samplePairs: SnapshotKeyValue[] = [
  { columnFamily: "default", key: rawDataKey(bytes("c")), value: bytes("one") },
  { columnFamily: "write", key: rawDataKey(bytes("d")), value: new Uint8Array(300).fill(7) },
];

describe("snapshot codec", () => {
  it("round-trips any pairs under any chunk size, every chunk within the size", () => {
    fc.assert(
      fc.property(
        fc.array(pairArbitrary, { maxLength: 20 }),
        fc.integer({ min: 1, max: 200 }),
        (pairs, size) => {
          const chunks = encode(pairs, size);
          assert.ok(chunks.every((chunk) => chunk.length > 0 && chunk.length <= size));
          const records = decodeAll(chunks);
          assert.equal(records[0]!.kind, "header");
          assert.deepEqual(records.at(-1), {
            kind: "trailer",
            kvCount: pairs.length,
            kvBytes: sizeOf(pairs),
          });
          const decoded = records.flatMap((record) => (record.kind === "kv" ? [record.keyValue] : []));
          assert.deepEqual(
            decoded.map((pair) => [pair.columnFamily, Buffer.from(pair.key), Buffer.from(pair.value)]),
            pairs.map((pair) => [pair.columnFamily, Buffer.from(pair.key), Buffer.from(pair.value)]),
          );
        },
      ),
      { numRuns: 200 },
    );
  });

  it("rejects a stream cut at any byte", () => {
    const whole = Buffer.concat(encode(samplePairs, 64));
    for (let length = 0; length < whole.length; length++) {
      const decoder = new SnapshotDecoder({ expected });
      decoder.push(whole.subarray(0, length));
      assert.throws(() => decoder.end(), SnapshotFormatError, `cut at ${length}`);
    }
  });

  it("rejects any single changed byte", () => {
    const whole = Buffer.concat(encode(samplePairs, 1 << 20));
    for (let position = 0; position < whole.length; position++) {
      const corrupt = Buffer.from(whole);
      corrupt[position]! ^= 0x01;
      assert.throws(() => decodeAll([corrupt]), SnapshotFormatError, `byte ${position}`);
    }
  });

  it("rejects bytes after the trailer, a different snapshot, and keys outside the region", () => {
    const whole = Buffer.concat(encode(samplePairs, 1 << 20));
    assert.throws(() => decodeAll([whole, Uint8Array.of(1)]), /bytes after the trailer/);
    assert.throws(
      () => decodeAll([whole], { expected: { ...expected, index: 41 } }),
      /expected region 3 index 41 term 6/,
    );
    const outside = [{ columnFamily: "default" as const, key: rawDataKey(bytes("z")), value: bytes("x") }];
    assert.throws(() => decodeAll(encode(outside, 1 << 20)), /7a727a is outside the region's data range/);
  });

  it("bounds what it buffers: oversized values and keys are refused from their lengths alone", () => {
    const big = [
      { columnFamily: "default" as const, key: rawDataKey(bytes("c")), value: new Uint8Array(2000) },
    ];
    const chunks = encode(big, 100);
    const decoder = new SnapshotDecoder({ expected, maxValueBytes: 1000 });
    assert.throws(() => {
      for (const chunk of chunks) decoder.push(chunk);
    }, /value of 2000 bytes/);
  });
});

function sizeOf(pairs: readonly SnapshotKeyValue[]): number {
  return pairs.reduce((total, pair) => total + pair.key.length + pair.value.length, 0);
}
