/**
 * Snapshot reads against a brute-force model of the same records: Get, BatchGet and Scan (forward and
 * reverse, ranges, limits, key-only) over random version histories long enough to cross every page
 * boundary of the paged cursors (16 versions per page for one key, 64 entries per page for scans). Keys
 * include prefixes of each other and zero bytes, where the memcomparable encoding must keep user-key order.
 * Prints its seed; SEED=n replays it.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { compareBytes } from "#codec";
import { resolveSeed } from "#sim";
import { MemoryMvccStorage } from "../testing/memory-mvcc-storage.ts";
import type { LockRecord, LockType } from "./lock-record.ts";
import { MvccTxn } from "./mvcc-txn.ts";
import { lockBlocksRead, type ReadOptions, type ReadPair, SnapshotReader } from "./snapshot-reader.ts";
import { SHORT_VALUE_MAX_BYTES, type WriteType } from "./write-record.ts";

const SEED = resolveSeed("mvcc snapshot reads");
const RUNS = 150;

interface ModelVersion {
  readonly commitTs: bigint;
  readonly type: WriteType;
  readonly value: Uint8Array;
}

interface ModelKey {
  readonly key: Uint8Array;
  /** Newest first, distinct commit timestamps. */
  readonly versions: readonly ModelVersion[];
  readonly lock: LockRecord | undefined;
}

const KEY_BYTES = [0x00, 0x01, 0x61, 0x62, 0xff];
const userKey = fc
  .array(fc.constantFrom(...KEY_BYTES), { minLength: 0, maxLength: 10 })
  .map((bytes) => Uint8Array.from(bytes));
const value = fc.oneof(
  fc.uint8Array({ maxLength: 8 }),
  fc
    .integer({ min: SHORT_VALUE_MAX_BYTES, max: SHORT_VALUE_MAX_BYTES + 2 })
    .map((n) => new Uint8Array(n).fill(7)),
);
const version = fc.record({
  commitTs: fc.bigInt({ min: 1n, max: 200n }),
  type: fc.constantFrom<WriteType>("put", "put", "delete", "lock", "rollback"),
  value,
});
const lock = fc.record({
  type: fc.constantFrom<LockType>("put", "delete", "lock", "pessimistic"),
  startTs: fc.bigInt({ min: 1n, max: 200n }),
  minCommitTs: fc.oneof(fc.constant(0n), fc.bigInt({ min: 1n, max: 200n })),
});
const modelKey = fc.record({
  key: userKey,
  // Up to 40: more than two pages of versions of one key.
  versions: fc.uniqueArray(version, { maxLength: 40, size: "max", selector: (v) => v.commitTs }),
  lock: fc.option(lock, { nil: undefined }),
});
const history = fc
  .uniqueArray(modelKey, { maxLength: 30, size: "max", selector: (k) => Buffer.from(k.key).toString("hex") })
  .map((keys) =>
    keys
      .map(
        (k): ModelKey => ({
          key: k.key,
          versions: [...k.versions].sort((a, b) => Number(b.commitTs - a.commitTs)),
          lock:
            k.lock === undefined
              ? undefined
              : {
                  ...k.lock,
                  primary: k.key,
                  ttlMs: 3000n,
                  shortValue: undefined,
                  forUpdateTs: 0n,
                  txnSize: 0n,
                  useAsyncCommit: false,
                  secondaries: [],
                },
        }),
      )
      .sort((a, b) => compareBytes(a.key, b.key)),
  );
const readOptions = fc.record({
  readTs: fc.bigInt({ min: 0n, max: 210n }),
  resolvedLocks: fc.uniqueArray(fc.bigInt({ min: 1n, max: 200n }), { maxLength: 3 }).map((ts) => new Set(ts)),
});

function store(keys: readonly ModelKey[]): MemoryMvccStorage {
  const storage = new MemoryMvccStorage();
  const txn = new MvccTxn();
  for (const { key, versions, lock: keyLock } of keys) {
    for (const { commitTs, type, value: versionValue } of versions) {
      // Each version's start_ts is just below its commit_ts, so no two share a default-CF slot.
      const startTs = commitTs * 2n;
      const short = type === "put" && versionValue.length <= SHORT_VALUE_MAX_BYTES;
      if (type === "put" && !short) txn.putValue(key, startTs, versionValue);
      txn.putWrite(key, commitTs, {
        type,
        startTs,
        shortValue: short ? versionValue : undefined,
        hasOverlappedRollback: false,
      });
    }
    if (keyLock !== undefined) txn.putLock(key, keyLock);
  }
  storage.apply(txn.modifies);
  return storage;
}

/** What a reader at read_ts sees of one key, by the rules of transactions.md §3, from the model alone. */
function expectedRead(entry: ModelKey, options: ReadOptions): ReadPair | undefined {
  if (entry.lock !== undefined && blocks(entry.lock, options)) {
    return { key: entry.key, error: { kind: "locked", key: entry.key, lock: entry.lock } };
  }
  const visible = entry.versions.find(
    (v) => v.commitTs <= options.readTs && (v.type === "put" || v.type === "delete"),
  );
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
      fc.property(history, readOptions, (keys, options) => {
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
      fc.asyncProperty(history, readOptions, userKey, async (keys, options, absent) => {
        const reader = new SnapshotReader(store(keys), options);
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
      startKey: userKey,
      endKey: userKey,
      limit: fc.oneof(fc.integer({ min: 0, max: 5 }), fc.constant(1000)),
      reverse: fc.boolean(),
      keyOnly: fc.boolean(),
    });
    await fc.assert(
      fc.asyncProperty(history, readOptions, scanOptions, async (keys, options, scan) => {
        const reader = new SnapshotReader(store(keys), options);
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
