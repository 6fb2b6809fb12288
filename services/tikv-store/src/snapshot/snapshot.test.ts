import assert from "node:assert/strict";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { encodeBytes } from "#codec";
import { raft_serverpb } from "#proto";
import { EntryType } from "#raft";
import { WriteBatch } from "#rocksdb";
import { txnDataKey } from "../engine/keys.ts";
import {
  CF_DEFAULT,
  CF_LOCK,
  CF_WRITE,
  DATA_COLUMN_FAMILIES,
  KvEngine,
  putApplyState,
  putRegionState,
  rawGet,
  rawPut,
  readApplyState,
  readRegionState,
} from "../engine/kv-engine.ts";
import { RaftEngine } from "../engine/raft-engine.ts";
import { RaftLogStore } from "../engine/raft-log-store.ts";
import { bytes, text } from "../testing/bytes.ts";
import { testRegion } from "../testing/region-fixture.ts";
import { temporaryDirectory } from "../testing/temporary-directory.ts";
import {
  applySnapshot,
  recoverApplyingSnapshots,
  type SnapshotApplyContext,
  SnapshotInterruptedError,
} from "./snapshot-applier.ts";
import { SnapshotFormatError } from "./snapshot-codec.ts";
import { generateSnapshot } from "./snapshot-generator.ts";
import { receiveSnapshot, SnapshotReceiver, snapshotKeyOf } from "./snapshot-receiver.ts";
import { type SnapshotKey, SnapshotStore } from "./snapshot-store.ts";

const root = temporaryDirectory("snapshot");
let directoryCount = 0;

interface Node extends SnapshotApplyContext {
  readonly directory: string;
  close(): Promise<void>;
}

async function openNode(directory = join(root, `node-${directoryCount++}`)): Promise<Node> {
  const kvEngine = await KvEngine.open(directory);
  const raftLogStore = new RaftLogStore(await RaftEngine.open(directory));
  const snapshotStore = await SnapshotStore.open(directory);
  const close = () => Promise.all([kvEngine.close(), raftLogStore.engine.close()]).then(() => undefined);
  after(close);
  // Tiny batches so a small test region spans many of them.
  return { directory, kvEngine, raftLogStore, snapshotStore, batchSizeBytes: 512, close };
}

const REGION = testRegion(5n, "k", "p", [51n, 52n, 53n]);
const NEIGHBOURS = ["a", "j", "p", "q"];
const termOf = (index: number) => (index === 30 ? 4 : assert.fail(`unexpected term lookup ${index}`));

const txnKey = (userKey: string): Uint8Array => txnDataKey(encodeBytes(bytes(userKey)));

/** A leader-side engine: the region's data in every CF, neighbours' data, region meta at applied index 30. */
async function seedLeader(node: Node, keyCount: number): Promise<void> {
  const batch = new WriteBatch();
  for (let index = 0; index < keyCount; index++) {
    const userKey = bytes(`k${String(index).padStart(4, "0")}`);
    rawPut(batch, userKey, bytes(`raw-${index}`));
    batch.put(CF_WRITE, txnDataKey(encodeBytes(userKey)), bytes(`write-${index}`));
  }
  batch.put(CF_LOCK, txnKey("m"), bytes("lock"));
  for (const key of NEIGHBOURS) rawPut(batch, bytes(key), bytes(`neighbour-${key}`));
  putRegionState(batch, REGION.id, { state: raft_serverpb.PeerState.NORMAL, region: REGION });
  putApplyState(batch, REGION.id, {
    appliedIndex: 30n,
    truncatedState: { index: 20n, term: 3n },
    commitIndex: 30n,
    commitTerm: 4n,
  });
  await node.kvEngine.write(batch, { sync: false });
}

/** A follower-side engine: stale data inside the region range and neighbours that must survive. */
async function seedFollower(node: Node): Promise<void> {
  const batch = new WriteBatch();
  rawPut(batch, bytes("k-stale"), bytes("stale"));
  batch.put(CF_DEFAULT, txnKey("n-stale"), bytes("stale"));
  for (const key of NEIGHBOURS) rawPut(batch, bytes(key), bytes(`follower-${key}`));
  await node.kvEngine.write(batch, { sync: false });
  const raftBatch = new WriteBatch();
  node.raftLogStore.appendEntries(
    raftBatch,
    REGION.id,
    [1, 2, 3].map((index) => ({ term: 2, index, type: EntryType.Normal, data: new Uint8Array(0) })),
    0,
  );
  node.raftLogStore.putRaftState(raftBatch, REGION.id, {
    hardState: { term: 5, vote: 52, commit: 3 },
    lastIndex: 3,
  });
  await node.raftLogStore.engine.write(raftBatch, { sync: true });
}

async function dumpColumnFamilies(node: Node): Promise<string[]> {
  const lines: string[] = [];
  for (const columnFamily of DATA_COLUMN_FAMILIES) {
    for (const { key, value } of await node.kvEngine.db.scan(columnFamily, { limit: 100_000 })) {
      lines.push(`${columnFamily} ${Buffer.from(key).toString("hex")} ${Buffer.from(value).toString("hex")}`);
    }
  }
  return lines;
}

const isRegionLine = (line: string) =>
  !NEIGHBOURS.some((key) => line.includes(Buffer.from(`zr${key}`).toString("hex")));

async function transfer(leader: Node, follower: Node, chunkSizeBytes = 256) {
  const generated = await generateSnapshot(leader.kvEngine, REGION.id, { termOf, chunkSizeBytes });
  after(() => generated.release());
  const key = keyOf(generated.metadata);
  const received = await receiveSnapshot(follower.snapshotStore, key, generated.chunks);
  return { generated, key, received };
}

describe("snapshot generate → receive → apply", () => {
  it("gives the follower exactly the leader's region data and meta, and nothing outside it", async () => {
    const leader = await openNode();
    const follower = await openNode();
    await seedLeader(leader, 200);
    await seedFollower(follower);
    const { generated, key, received } = await transfer(leader, follower);
    assert.deepEqual(key, { regionId: 5n, index: 30, term: 4 });
    assert.deepEqual(generated.metadata.confState, { voters: [51, 52, 53], learners: [] });
    assert.equal(received.kvCount, 401);
    assert.equal(raft_serverpb.RaftSnapshotData.decode(generated.metadata.data).region?.id, 5n);

    const applied = await applySnapshot(follower, key);
    assert.equal(applied.kvCount, 401);
    const leaderRegion = (await dumpColumnFamilies(leader)).filter(isRegionLine);
    const followerData = await dumpColumnFamilies(follower);
    assert.deepEqual(followerData.filter(isRegionLine), leaderRegion);
    const neighbours = followerData.filter((line) => !isRegionLine(line));
    assert.equal(neighbours.length, NEIGHBOURS.length);
    assert.ok(neighbours.every((line) => line.includes(Buffer.from("follower-").toString("hex"))));

    const regionState = await readRegionState(follower.kvEngine.db, 5n);
    assert.equal(regionState?.state, raft_serverpb.PeerState.NORMAL);
    assert.deepEqual(
      regionState?.region?.peers.map((peer) => peer.id),
      [51n, 52n, 53n],
    );
    assert.deepEqual(await readApplyState(follower.kvEngine.db, 5n), {
      appliedIndex: 30n,
      truncatedState: { index: 30n, term: 4n },
      commitIndex: 30n,
      commitTerm: 4n,
    });
    // The old log is replaced; the vote of the current term and a commit at the snapshot survive.
    assert.deepEqual(await follower.raftLogStore.raftState(5n), {
      hardState: { term: 5, vote: 52, commit: 30 },
      lastIndex: 30,
    });
    assert.equal(await follower.raftLogStore.firstStoredIndex(5n), undefined);
    assert.equal(await follower.snapshotStore.has(key), false);
  });

  it("reads one consistent view: writes after generation are not in it, and the stream can be re-read", async () => {
    const leader = await openNode();
    await seedLeader(leader, 10);
    const generated = await generateSnapshot(leader.kvEngine, REGION.id, { termOf });
    after(() => generated.release());
    const late = new WriteBatch();
    rawPut(late, bytes("k-late"), bytes("late"));
    putApplyState(late, REGION.id, {
      appliedIndex: 31n,
      truncatedState: undefined,
      commitIndex: 31n,
      commitTerm: 4n,
    });
    await leader.kvEngine.write(late, { sync: false });
    const first = await collect(generated.chunks);
    const second = await collect(generated.chunks);
    assert.deepEqual(second, first);
    assert.ok(!Buffer.concat(first).includes(Buffer.from("k-late")));
    assert.equal(generated.metadata.index, 30);
  });

  it("uses the truncated term when the applied index was compacted, and refuses regions it cannot snapshot", async () => {
    const leader = await openNode();
    await seedLeader(leader, 1);
    const batch = new WriteBatch();
    putApplyState(batch, REGION.id, {
      appliedIndex: 30n,
      truncatedState: { index: 30n, term: 4n },
      commitIndex: 30n,
      commitTerm: 4n,
    });
    await leader.kvEngine.write(batch, { sync: false });
    const generated = await generateSnapshot(leader.kvEngine, REGION.id, {
      termOf: () => assert.fail("not needed"),
    });
    await generated.release();
    assert.equal(generated.metadata.term, 4);
    await assert.rejects(
      generateSnapshot(leader.kvEngine, 99n, { termOf }),
      /region 99: region state is missing/,
    );
  });
});

describe("snapshotKeyOf", () => {
  it("takes the key from the announcing raft message and refuses one without a snapshot", () => {
    const message = raft_serverpb.RaftMessage.fromPartial({
      regionId: 5n,
      message: { snapshot: { metadata: { index: 30n, term: 4n } } },
    });
    assert.deepEqual(snapshotKeyOf(message), { regionId: 5n, term: 4, index: 30 });
    const withoutSnapshot = raft_serverpb.RaftMessage.fromPartial({ regionId: 5n, message: {} });
    assert.throws(
      () => snapshotKeyOf(withoutSnapshot),
      /region 5 is malformed: the raft message carries no snapshot/,
    );
  });
});

describe("snapshot failures", () => {
  it("a stream cut halfway stages nothing and changes nothing", async () => {
    const leader = await openNode();
    const follower = await openNode();
    await seedLeader(leader, 100);
    await seedFollower(follower);
    const before = await dumpColumnFamilies(follower);
    const generated = await generateSnapshot(leader.kvEngine, REGION.id, { termOf, chunkSizeBytes: 128 });
    after(() => generated.release());
    const chunks = await collect(generated.chunks);
    const key = keyOf(generated.metadata);
    await assert.rejects(
      receiveSnapshot(follower.snapshotStore, key, cut(chunks, chunks.length / 2)),
      SnapshotFormatError,
    );

    // A receiver that the transport abandons mid-stream also leaves nothing behind.
    const abandoned = new SnapshotReceiver(follower.snapshotStore, key);
    await abandoned.write(chunks[0]!);
    await abandoned.abort();

    assert.deepEqual(await readdir(follower.snapshotStore.directory), []);
    assert.deepEqual(await dumpColumnFamilies(follower), before);
    assert.equal(await readRegionState(follower.kvEngine.db, REGION.id), undefined);
    assert.equal((await follower.raftLogStore.raftState(REGION.id))?.lastIndex, 3);
  });

  it("a crash while Applying is re-applied from the staged snapshot on restart", async () => {
    const leader = await openNode();
    const followerDirectory = join(root, "crashing-follower");
    const follower = await openNode(followerDirectory);
    await seedLeader(leader, 200);
    await seedFollower(follower);
    const { key } = await transfer(leader, follower);
    await assert.rejects(
      applySnapshot(follower, key, { interruption: { afterBatches: 3 } }),
      SnapshotInterruptedError,
    );
    assert.equal((await readRegionState(follower.kvEngine.db, 5n))?.state, raft_serverpb.PeerState.APPLYING);
    await follower.close();

    const restarted = await openNode(followerDirectory);
    const report = await recoverApplyingSnapshots(restarted);
    assert.deepEqual(
      report.reapplied.map((applied) => applied.key),
      [key],
    );
    assert.deepEqual(report.cleaned, []);
    assert.equal((await readRegionState(restarted.kvEngine.db, 5n))?.state, raft_serverpb.PeerState.NORMAL);
    const leaderRegion = (await dumpColumnFamilies(leader)).filter(isRegionLine);
    assert.deepEqual((await dumpColumnFamilies(restarted)).filter(isRegionLine), leaderRegion);
    assert.equal((await restarted.raftLogStore.raftState(5n))?.lastIndex, 30);
    assert.deepEqual(await readdir(restarted.snapshotStore.directory), []);
  });

  it("ranges the region abandoned are cleared durably with the Applying state", async () => {
    const leader = await openNode();
    const follower = await openNode();
    await seedLeader(leader, 200);
    await seedFollower(follower);
    const { key } = await transfer(leader, follower);
    // The follower's peer held [j, +inf) before it missed a split; the snapshot brings [k, p).
    const abandonedRanges = [
      { startKey: bytes("j"), endKey: bytes("k") },
      { startKey: bytes("p"), endKey: new Uint8Array(0) },
    ];
    await assert.rejects(
      applySnapshot(follower, key, { abandonedRanges, interruption: { afterBatches: 1 } }),
      SnapshotInterruptedError,
    );
    for (const neighbour of ["j", "p", "q"])
      assert.equal(await rawGet(follower.kvEngine.db, bytes(neighbour)), undefined);
    assert.equal(text(await rawGet(follower.kvEngine.db, bytes("a"))), "follower-a");
    await recoverApplyingSnapshots(follower);
    assert.equal(await rawGet(follower.kvEngine.db, bytes("q")), undefined);
    assert.equal(text(await rawGet(follower.kvEngine.db, bytes("a"))), "follower-a");
  });

  it("a region left Applying without its staged snapshot is cleared and becomes a tombstone", async () => {
    const leader = await openNode();
    const follower = await openNode();
    await seedLeader(leader, 50);
    await seedFollower(follower);
    const { key } = await transfer(leader, follower);
    await assert.rejects(
      applySnapshot(follower, key, { interruption: { afterBatches: 1 } }),
      SnapshotInterruptedError,
    );
    await follower.snapshotStore.delete(key);
    const stale = new SnapshotReceiver(follower.snapshotStore, { regionId: 9n, term: 1, index: 1 });
    await stale.write(Uint8Array.of(1));

    const report = await recoverApplyingSnapshots(follower);
    assert.deepEqual(report.reapplied, []);
    assert.deepEqual(
      report.cleaned.map((cleaned) => cleaned.regionId),
      [5n],
    );
    assert.match(report.cleaned[0]!.reason, /staged snapshot region 5 term 4 index 30 is missing/);
    assert.equal(report.removedFiles, 1);
    const regionState = await readRegionState(follower.kvEngine.db, 5n);
    assert.equal(regionState?.state, raft_serverpb.PeerState.TOMBSTONE);
    assert.equal(await readApplyState(follower.kvEngine.db, 5n), undefined);
    assert.equal(await follower.raftLogStore.raftState(5n), undefined);
    const remaining = await dumpColumnFamilies(follower);
    assert.deepEqual(remaining.filter(isRegionLine), []);
    assert.equal(remaining.length, NEIGHBOURS.length);
    assert.deepEqual(await readdir(follower.snapshotStore.directory), []);
  });

  it("recovery removes staged snapshots that no Applying region needs", async () => {
    const leader = await openNode();
    const follower = await openNode();
    await seedLeader(leader, 5);
    const { key } = await transfer(leader, follower);
    // Received but never applied (raft rejected it, or the store crashed before the Ready): garbage.
    const report = await recoverApplyingSnapshots(follower);
    assert.deepEqual(report, { reapplied: [], cleaned: [], removedFiles: 1 });
    assert.equal(await follower.snapshotStore.has(key), false);
  });
});

function keyOf({ regionId, term, index }: SnapshotKey): SnapshotKey {
  return { regionId, term, index };
}

async function collect(chunks: AsyncIterable<Uint8Array>): Promise<Uint8Array[]> {
  const collected: Uint8Array[] = [];
  for await (const chunk of chunks) collected.push(Uint8Array.from(chunk));
  return collected;
}

async function* cut(chunks: readonly Uint8Array[], count: number): AsyncGenerator<Uint8Array> {
  yield* chunks.slice(0, Math.floor(count));
}
