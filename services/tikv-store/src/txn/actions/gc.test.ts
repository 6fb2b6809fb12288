/**
 * GC against a brute-force model over random histories: run in bounded steps until done, it keeps every
 * version above the safe point and, at or below it, only the newest Put when that is what a reader at
 * the safe point sees; it drops the values of the versions it drops and nothing else, and leaves locks
 * alone. Prints its seed; SEED=n replays it.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { decodeMvccKey } from "#codec";
import { resolveSeed } from "#sim";
import { MvccReader } from "../../mvcc/mvcc-reader.ts";
import { MvccTxn } from "../../mvcc/mvcc-txn.ts";
import { decodeWriteRecord, SHORT_VALUE_MAX_BYTES } from "../../mvcc/write-record.ts";
import type { MemoryMvccStorage } from "../../testing/memory-mvcc-storage.ts";
import {
  type HistoryKey,
  mvccHistoryArbitrary,
  storeHistory,
  visibleVersion,
} from "../../testing/txn-actions/random-mvcc-history.ts";
import { gcRange } from "./gc.ts";

const SEED = resolveSeed("mvcc gc");
const RUNS = 100;
const EMPTY = new Uint8Array(0);
const EVERYTHING = { gte: EMPTY, lt: undefined, reverse: false, limit: Number.MAX_SAFE_INTEGER };
const hex = (key: Uint8Array) => Buffer.from(key).toString("hex");

/** Runs GC over everything in steps of `maxKeys` keys; returns the versions it says it deleted. */
async function collect(storage: MemoryMvccStorage, safePoint: bigint, maxKeys: number): Promise<number> {
  let startKey: Uint8Array = EMPTY;
  let deleted = 0;
  for (let steps = 0; ; steps++) {
    assert.ok(steps <= 30 / maxKeys + 1, "GC does not advance");
    const txn = new MvccTxn();
    const step = await gcRange(storage, txn, { startKey, endKey: EMPTY }, safePoint, maxKeys);
    storage.apply(txn.modifies);
    deleted += step.deletedVersions;
    if (step.nextKey === undefined) return deleted;
    startKey = step.nextKey;
  }
}

function expectedKept(entry: HistoryKey, safePoint: bigint) {
  const newest = visibleVersion(entry, safePoint);
  return entry.versions.filter((v) => v.commitTs > safePoint || (v === newest && v.type === "put"));
}

async function storedVersions(storage: MemoryMvccStorage): Promise<string[]> {
  return (await storage.scan("write", EVERYTHING)).map((entry) => {
    const { userKey, ts } = decodeMvccKey(entry.key);
    const write = decodeWriteRecord(entry.value);
    return `${hex(userKey)}@${ts} ${write.type} start=${write.startTs}`;
  });
}

describe(`gc (SEED=${SEED})`, () => {
  it("keeps what a reader at or above the safe point can see, and only that", async () => {
    const safePoint = fc.bigInt({ min: 0n, max: 210n });
    const maxKeys = fc.integer({ min: 1, max: 31 });
    await fc.assert(
      fc.asyncProperty(mvccHistoryArbitrary, safePoint, maxKeys, async (keys, point, stepKeys) => {
        const storage = storeHistory(keys);
        const locksBefore = storage.count("lock");
        const deleted = await collect(storage, point, stepKeys);
        const kept = keys.map((entry) => ({ entry, versions: expectedKept(entry, point) }));
        const expected = kept.flatMap(({ entry, versions }) =>
          versions.map((v) => `${hex(entry.key)}@${v.commitTs} ${v.type} start=${v.startTs}`),
        );
        assert.deepEqual(await storedVersions(storage), expected);
        const total = keys.reduce((sum, entry) => sum + entry.versions.length, 0);
        assert.equal(deleted, total - expected.length, "deleted versions reported");
        const longValues = kept.flatMap(({ entry, versions }) =>
          versions
            .filter((v) => v.type === "put" && v.value.length > SHORT_VALUE_MAX_BYTES)
            .map((v) => `${hex(entry.key)}@${v.startTs}`),
        );
        const defaults = (await storage.scan("default", EVERYTHING)).map((entry) => {
          const { userKey, ts } = decodeMvccKey(entry.key);
          return `${hex(userKey)}@${ts}`;
        });
        assert.deepEqual(defaults, longValues, "default-CF values");
        assert.equal(storage.count("lock"), locksBefore, "locks");
        const reader = new MvccReader(storage);
        for (const entry of keys) {
          const visible = visibleVersion(entry, point);
          const value = await reader.visibleValue(entry.key, point);
          assert.deepEqual(
            value,
            visible?.type === "put" ? visible.value : undefined,
            "read at the safe point",
          );
        }
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });
});
