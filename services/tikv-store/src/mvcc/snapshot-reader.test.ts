/**
 * Snapshot reads against a brute-force model of the same records: Get, BatchGet and Scan (forward and
 * reverse, ranges, limits, key-only) over random version histories long enough to cross every page
 * boundary of the paged cursors (16 versions per page for one key, 64 entries per page for scans).
 * Prints its seed; SEED=n replays it.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { compareBytes } from "#codec";
import { resolveSeed } from "#sim";
import {
  type HistoryKey,
  mvccHistoryArbitrary,
  storeHistory,
  userKeyArbitrary,
  visibleVersion,
} from "../testing/txn-actions/random-mvcc-history.ts";
import type { LockRecord } from "./lock-record.ts";
import { lockBlocksRead, type ReadOptions, type ReadPair, SnapshotReader } from "./snapshot-reader.ts";

const SEED = resolveSeed("mvcc snapshot reads");
const RUNS = 150;

const readOptions = fc.record({
  readTs: fc.bigInt({ min: 0n, max: 210n }),
  resolvedLocks: fc.uniqueArray(fc.bigInt({ min: 1n, max: 200n }), { maxLength: 3 }).map((ts) => new Set(ts)),
});

/** What a reader at read_ts sees of one key, by the rules of transactions.md §3, from the model alone. */
function expectedRead(entry: HistoryKey, options: ReadOptions): ReadPair | undefined {
  if (entry.lock !== undefined && blocks(entry.lock, options)) {
    return { key: entry.key, error: { kind: "locked", key: entry.key, lock: entry.lock } };
  }
  const visible = visibleVersion(entry, options.readTs);
  return visible?.type === "put" ? { key: entry.key, value: visible.value } : undefined;
}

function blocks(lockRecord: LockRecord, options: ReadOptions): boolean {
  return (
    lockRecord.type !== "pessimistic" &&
    lockRecord.type !== "lock" &&
    lockRecord.startTs <= options.readTs &&
    lockRecord.minCommitTs <= options.readTs &&
    !options.resolvedLocks.has(lockRecord.startTs)
  );
}

const plain = (pairs: readonly (ReadPair | undefined)[]) =>
  pairs
    .filter((pair) => pair !== undefined)
    .map((pair) =>
      "error" in pair
        ? { key: [...pair.key], locked: pair.error.kind === "locked" ? pair.error.lock.startTs : -1n }
        : { key: [...pair.key], value: [...pair.value] },
    );

describe(`snapshot reads match a model of the records (SEED=${SEED})`, () => {
  it("lockBlocksRead follows the rules of §3", () => {
    fc.assert(
      fc.property(mvccHistoryArbitrary, readOptions, (keys, options) => {
        for (const entry of keys) {
          if (entry.lock !== undefined)
            assert.equal(lockBlocksRead(entry.lock, options), blocks(entry.lock, options));
        }
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });

  it("get and batch get", async () => {
    await fc.assert(
      fc.asyncProperty(mvccHistoryArbitrary, readOptions, userKeyArbitrary, async (keys, options, absent) => {
        const reader = new SnapshotReader(storeHistory(keys), options);
        for (const entry of keys) {
          const result = await reader.get(entry.key);
          const actual: ReadPair | undefined =
            "error" in result
              ? { key: entry.key, error: result.error }
              : result.value === undefined
                ? undefined
                : { key: entry.key, value: result.value };
          assert.deepEqual(plain([actual]), plain([expectedRead(entry, options)]));
        }
        const asked = [...keys.map((entry) => entry.key), absent].reverse();
        const expected = asked.map((key) => {
          const entry = keys.find((candidate) => compareBytes(candidate.key, key) === 0);
          return entry === undefined ? undefined : expectedRead(entry, options);
        });
        assert.deepEqual(plain(await reader.batchGet(asked)), plain(expected));
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });

  it("scan, forward and reverse, over ranges and limits", async () => {
    const scanOptions = fc.record({
      startKey: userKeyArbitrary,
      endKey: userKeyArbitrary,
      limit: fc.oneof(fc.integer({ min: 0, max: 5 }), fc.constant(1000)),
      reverse: fc.boolean(),
      keyOnly: fc.boolean(),
    });
    await fc.assert(
      fc.asyncProperty(mvccHistoryArbitrary, readOptions, scanOptions, async (keys, options, scan) => {
        const reader = new SnapshotReader(storeHistory(keys), options);
        const inRange = keys.filter(
          ({ key }) =>
            compareBytes(key, scan.startKey) >= 0 &&
            (scan.endKey.length === 0 || compareBytes(key, scan.endKey) < 0),
        );
        if (scan.reverse) inRange.reverse();
        const expected = inRange
          .map((entry) => expectedRead(entry, options))
          .filter((pair) => pair !== undefined)
          .map((pair) =>
            "value" in pair && scan.keyOnly ? { key: pair.key, value: new Uint8Array(0) } : pair,
          )
          .slice(0, scan.limit);
        assert.deepEqual(plain(await reader.scan(scan)), plain(expected));
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });
});
