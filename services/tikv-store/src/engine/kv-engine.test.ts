import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { encodeBytes } from "#codec";
import { raft_serverpb } from "#proto";
import { WriteBatch } from "#rocksdb";
import { bytes, text } from "../testing/bytes.ts";
import { testRegion } from "../testing/region-fixture.ts";
import { temporaryDirectory } from "../testing/temporary-directory.ts";
import { applyStateKey, rawDataKey, regionStateKey, txnDataKey } from "./keys.ts";
import {
  CF_DEFAULT,
  CF_LOCK,
  CF_RAFT,
  CF_WRITE,
  clearRange,
  deleteApplyState,
  EngineCorruptionError,
  KvEngine,
  measureRegion,
  putApplyState,
  putRegionState,
  rawBatchGet,
  rawDelete,
  rawDeleteRange,
  rawGet,
  rawPut,
  rawScan,
  readApplyState,
  readRegionState,
  StoreIdentMismatchError,
} from "./kv-engine.ts";

const root = temporaryDirectory("kv-engine");
let directoryCount = 0;

async function openFresh(): Promise<KvEngine> {
  const engine = await KvEngine.open(join(root, `engine-${directoryCount++}`));
  after(() => engine.close());
  return engine;
}

const empty = new Uint8Array(0);
const jsonOf = (state: raft_serverpb.RegionLocalState | undefined) =>
  state && raft_serverpb.RegionLocalState.toJSON(state);
const txnKey = (userKey: string, ts: number): Uint8Array => {
  const suffix = Buffer.alloc(8);
  suffix.writeBigUInt64BE(BigInt(ts));
  return txnDataKey(Uint8Array.from([...encodeBytes(bytes(userKey)), ...suffix]));
};

describe("KvEngine meta", () => {
  it("writes the store ident once and refuses a different one, across reopen", async () => {
    const directory = join(root, "ident");
    const first = await KvEngine.open(directory);
    assert.equal(await first.storeIdent(), undefined);
    await first.putStoreIdentOnce({ clusterId: 7n, storeId: 3n });
    await first.putStoreIdentOnce({ clusterId: 7n, storeId: 3n });
    await first.close();
    const reopened = await KvEngine.open(directory);
    after(() => reopened.close());
    assert.deepEqual(await reopened.storeIdent(), { clusterId: 7n, storeId: 3n });
    await assert.rejects(reopened.putStoreIdentOnce({ clusterId: 7n, storeId: 4n }), StoreIdentMismatchError);
  });

  it("round-trips region and apply states through a batch and lists them for start-up", async () => {
    const engine = await openFresh();
    const batch = new WriteBatch();
    const normal = { state: raft_serverpb.PeerState.NORMAL, region: testRegion(1n, "", "m") };
    const tombstone = { state: raft_serverpb.PeerState.TOMBSTONE, region: testRegion(2n, "m", "") };
    const applied = {
      appliedIndex: 9n,
      truncatedState: { index: 5n, term: 2n },
      commitIndex: 9n,
      commitTerm: 3n,
    };
    putRegionState(batch, 1n, normal);
    putApplyState(batch, 1n, applied);
    putRegionState(batch, 2n, tombstone);
    await engine.write(batch, { sync: true });

    assert.deepEqual(jsonOf(await readRegionState(engine.db, 1n)), jsonOf(normal));
    assert.deepEqual(await readApplyState(engine.db, 1n), applied);
    assert.equal(await readApplyState(engine.db, 2n), undefined);
    assert.equal(await readRegionState(engine.db, 3n), undefined);
    const regions = await engine.loadRegions();
    assert.deepEqual(
      regions.map((region) => [region.regionId, jsonOf(region.regionState), region.applyState]),
      [
        [1n, jsonOf(normal), applied],
        [2n, jsonOf(tombstone), undefined],
      ],
    );

    await engine.write(
      (() => {
        const destroy = new WriteBatch();
        deleteApplyState(destroy, 1n);
        return destroy;
      })(),
      { sync: false },
    );
    assert.equal(await readApplyState(engine.db, 1n), undefined);
  });

  it("reports undecodable stored state as corruption with the key", async () => {
    const engine = await openFresh();
    await engine.db.put(CF_RAFT, regionStateKey(4n), Uint8Array.of(0xff, 0xff, 0xff), { sync: false });
    await engine.db.put(CF_RAFT, applyStateKey(4n), Uint8Array.of(0x0a, 0x09), { sync: false });
    await assert.rejects(readRegionState(engine.db, 4n), EngineCorruptionError);
    await assert.rejects(engine.loadRegions(), /cannot decode region state at key 0103000000000000000401/);
  });
});

describe("KvEngine raw data", () => {
  let engine: KvEngine;
  after(() => engine.close());
  before(async () => {
    engine = await KvEngine.open(join(root, "raw-data"));
    const batch = new WriteBatch();
    for (const key of ["a", "b", "c", "d", "e"]) rawPut(batch, bytes(key), bytes(`value-${key}`));
    // Transactional keys share CF default but must never show up in raw reads.
    batch.put(CF_DEFAULT, txnKey("b", 1), bytes("txn"));
    await engine.write(batch, { sync: false });
  });

  it("gets single and many keys, from the engine and from a snapshot", async () => {
    assert.equal(text(await rawGet(engine.db, bytes("c"))), "value-c");
    assert.equal(await rawGet(engine.db, bytes("zz")), undefined);
    const snapshot = engine.snapshot();
    after(() => snapshot.release());
    await engine.write(new WriteBatch().delete(CF_DEFAULT, rawDataKey(bytes("c"))), { sync: false });
    assert.equal(text(await rawGet(snapshot, bytes("c"))), "value-c");
    assert.equal(await rawGet(engine.db, bytes("c")), undefined);
    const values = await rawBatchGet(snapshot, [bytes("a"), bytes("x"), bytes("c")]);
    assert.deepEqual(values.map(text), ["value-a", undefined, "value-c"]);
    const restore = new WriteBatch();
    rawPut(restore, bytes("c"), bytes("value-c"));
    await engine.write(restore, { sync: false });
  });

  it("scans [start, end) forward and reverse with limits, key-only, and unbounded ends", async () => {
    const keysOf = (pairs: ReadonlyArray<{ key: Uint8Array }>) => pairs.map((pair) => text(pair.key));
    const scan = (startKey: string, endKey: string, limit: number, reverse = false) =>
      rawScan(engine.db, { startKey: bytes(startKey), endKey: bytes(endKey), limit, reverse });
    assert.deepEqual(keysOf(await scan("b", "d", 10)), ["b", "c"]);
    assert.deepEqual(keysOf(await scan("b", "d", 10, true)), ["c", "b"]);
    assert.deepEqual(keysOf(await scan("", "", 3)), ["a", "b", "c"]);
    assert.deepEqual(keysOf(await scan("", "", 2, true)), ["e", "d"]);
    assert.deepEqual(keysOf(await scan("c", "", 10)), ["c", "d", "e"]);
    assert.deepEqual(await scan("a", "e", 0), []);
    const withValues = await scan("a", "b", 5);
    assert.equal(text(withValues[0]!.value), "value-a");
    const keyOnly = await rawScan(engine.db, { startKey: empty, endKey: empty, limit: 5, keyOnly: true });
    assert.equal(keyOnly.length, 5);
    assert.ok(keyOnly.every((pair) => pair.value.length === 0));
  });

  it("deletes single keys and ranges", async () => {
    const scratch = await openFresh();
    const batch = new WriteBatch();
    for (const key of ["a", "b", "c", "d"]) rawPut(batch, bytes(key), bytes(key));
    rawDelete(batch, bytes("a"));
    rawDeleteRange(batch, bytes("c"), empty);
    await scratch.write(batch, { sync: false });
    const left = await rawScan(scratch.db, { startKey: empty, endKey: empty, limit: 10 });
    assert.deepEqual(
      left.map((pair) => text(pair.key)),
      ["b"],
    );
  });
});

describe("clearRange", () => {
  it("deletes the region's data in every data CF and leaves neighbours and meta untouched", async () => {
    const engine = await openFresh();
    const left = testRegion(1n, "", "c");
    const middle = testRegion(2n, "c", "f");
    const right = testRegion(3n, "f", "");
    const batch = new WriteBatch();
    for (const key of ["a", "b", "c", "d", "e", "f", "g"]) {
      rawPut(batch, bytes(key), bytes(key));
      batch.put(CF_WRITE, txnKey(key, 5), bytes(key));
      batch.put(CF_LOCK, txnKey(key, 0), bytes(key));
    }
    for (const region of [left, middle, right]) {
      putRegionState(batch, region.id, { state: raft_serverpb.PeerState.NORMAL, region });
    }
    await engine.write(batch, { sync: false });

    const clear = new WriteBatch();
    clearRange(clear, middle);
    await engine.write(clear, { sync: false });

    const raw = await rawScan(engine.db, { startKey: empty, endKey: empty, limit: 100 });
    assert.deepEqual(
      raw.map((pair) => text(pair.key)),
      ["a", "b", "f", "g"],
    );
    for (const columnFamily of [CF_WRITE, CF_LOCK]) {
      const remaining = await engine.db.scan(columnFamily, { limit: 100 });
      assert.equal(remaining.length, 4, columnFamily);
    }
    assert.equal((await engine.loadRegions()).length, 3);
    const clearUnbounded = new WriteBatch();
    clearRange(clearUnbounded, right);
    await engine.write(clearUnbounded, { sync: false });
    const afterRight = await rawScan(engine.db, { startKey: empty, endKey: empty, limit: 100 });
    assert.deepEqual(
      afterRight.map((pair) => text(pair.key)),
      ["a", "b"],
    );
    assert.equal((await engine.db.scan(CF_WRITE, { limit: 100 })).length, 2);
  });
});

describe("measureRegion", () => {
  it("counts keys and bytes of the region only and proposes split keys per threshold", async () => {
    const engine = await openFresh();
    const batch = new WriteBatch();
    for (let index = 0; index < 10; index++) rawPut(batch, bytes(`k${index}`), new Uint8Array(8));
    rawPut(batch, bytes("z-outside"), new Uint8Array(8));
    batch.put(CF_WRITE, txnKey("k5", 1), new Uint8Array(8));
    await engine.write(batch, { sync: false });
    const region = testRegion(1n, "k", "l");
    const options = { splitSizeBytes: 1_000_000, splitKeys: 4, maxKeys: 100, maxSplitKeys: 10 };

    const estimate = await measureRegion(engine.db, region, options);
    assert.equal(estimate.keys, 11);
    const rawBytes = 10 * (rawDataKey(bytes("k0")).length + 8);
    assert.equal(estimate.sizeBytes, rawBytes + txnKey("k5", 1).length + 8);
    assert.deepEqual(estimate.splitKeys.map(text), ["k4", "k8"]);
    assert.equal(estimate.truncated, false);

    const bySize = await measureRegion(engine.db, region, { ...options, splitKeys: 100, splitSizeBytes: 36 });
    // Each raw pair is 4 + 8 = 12 bytes: three fit in 36, the fourth starts the next part.
    assert.deepEqual(bySize.splitKeys.map(text), ["k3", "k6", "k9"]);

    const bounded = await measureRegion(engine.db, region, { ...options, maxKeys: 3, maxSplitKeys: 1 });
    assert.equal(bounded.keys, 3);
    assert.equal(bounded.truncated, true);
  });
});
