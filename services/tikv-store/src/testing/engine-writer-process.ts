// Spawned by engine-durability.test.ts: like the store loop, persists raft entries + raft state (synced),
// then applies them with their apply state in one kv batch (synced), and reports each acknowledged index
// over IPC until the parent kills it.
import { EntryType } from "#raft";
import { WriteBatch } from "#rocksdb";
import { KvEngine, putApplyState, rawPut } from "../engine/kv-engine.ts";
import { RaftEngine } from "../engine/raft-engine.ts";
import { RaftLogStore } from "../engine/raft-log-store.ts";

const directory = process.argv[2];
if (!directory || !process.send) throw new Error("usage: spawned with IPC and a data directory");
const REGION_ID = 1n;
const kvEngine = await KvEngine.open(directory);
const raftLogStore = new RaftLogStore(await RaftEngine.open(directory));
// Bounded so a parent that never kills us cannot leave this running forever.
for (let index = 1; index <= 100_000; index++) {
  const data = new TextEncoder().encode(`value-${index}`);
  const raftBatch = new WriteBatch();
  raftLogStore.appendEntries(
    raftBatch,
    REGION_ID,
    [{ term: 1, index, type: EntryType.Normal, data }],
    index - 1,
  );
  raftLogStore.putRaftState(raftBatch, REGION_ID, {
    hardState: { term: 1, vote: 1, commit: index },
    lastIndex: index,
  });
  await raftLogStore.engine.write(raftBatch, { sync: true });
  const kvBatch = new WriteBatch();
  rawPut(kvBatch, new TextEncoder().encode(`key-${index}`), data);
  const applied = BigInt(index);
  putApplyState(kvBatch, REGION_ID, {
    appliedIndex: applied,
    truncatedState: { index: 0n, term: 0n },
    commitIndex: applied,
    commitTerm: 1n,
  });
  await kvEngine.write(kvBatch, { sync: true });
  process.send({ acknowledged: index });
}
