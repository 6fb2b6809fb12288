/**
 * The raftstore's side of transactional writes: a command's modifications apply atomically in all
 * three column families, and a command computed in one leader term is refused in another (another
 * leader may have changed its keys in between), with nothing written.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { MvccReader } from "../mvcc/mvcc-reader.ts";
import { MvccTxn } from "../mvcc/mvcc-txn.ts";
import { bytes, text } from "../testing/bytes.ts";
import { StoreCluster } from "../testing/cluster/store-cluster.ts";
import { NotLeaderError } from "./region-errors.ts";

function lockAndValue(key: string, startTs: bigint): MvccTxn {
  const txn = new MvccTxn();
  txn.putLock(bytes(key), {
    type: "put",
    primary: bytes(key),
    startTs,
    ttlMs: 3000n,
    shortValue: undefined,
    forUpdateTs: 0n,
    txnSize: 1n,
    minCommitTs: 0n,
    useAsyncCommit: false,
    secondaries: [],
  });
  txn.putValue(bytes(key), startTs, bytes("x".repeat(300)));
  return txn;
}

test("a transactional command applies in every column family, and only in the term it was computed in", async () => {
  const cluster = await StoreCluster.start({ label: "txn writes", stores: 3 });
  try {
    const leader = await cluster.waitLeaderOf(bytes("k"));
    const read = await leader.store.read(leader.context, { kind: "keys", keys: [bytes("k")] }, (reader) => ({
      region: reader.region,
      term: reader.term,
    }));
    await leader.store.writeTxn(leader.context, read, lockAndValue("k", 10n).modifies);
    for (const index of cluster.indexes) {
      await cluster.waitFor(`store ${index} to apply the command`, async () => {
        const found = await cluster.store(index).readLocal(read.region.id, async (reader) => {
          const mvcc = new MvccReader(reader.mvcc);
          const lock = await mvcc.loadLock(bytes("k"));
          return lock === undefined ? undefined : text(await mvcc.loadValue(bytes("k"), lock));
        });
        return found === "x".repeat(300);
      });
    }

    const stale = lockAndValue("stale", 11n);
    await assert.rejects(
      leader.store.writeTxn(leader.context, { region: read.region, term: read.term - 1 }, stale.modifies),
      NotLeaderError,
    );
    const lockOfStale = await leader.store.readLocal(read.region.id, (reader) =>
      new MvccReader(reader.mvcc).loadLock(bytes("stale")),
    );
    assert.equal(lockOfStale, undefined, "a refused command wrote nothing");
  } finally {
    await cluster.close();
  }
});
