// Spawned by durability.test.ts: writes numbered batches with sync and reports each acknowledgement over IPC
// until the parent kills it.
import { openRocksDb } from "../rocks-db.ts";
import { WriteBatch } from "../write-batch.ts";

const path = process.argv[2];
if (!path || !process.send) throw new Error("usage: spawned with IPC and a database path");
const db = await openRocksDb({ path, columnFamilies: ["raft", "kv"], createIfMissing: true });
// Bounded so a parent that never kills us cannot leave this running forever.
for (let sequence = 0; sequence < 100_000; sequence++) {
  const key = Buffer.alloc(4);
  key.writeUInt32BE(sequence);
  await db.write(new WriteBatch().put("raft", key, key).put("kv", key, key), { sync: true });
  process.send({ acknowledged: sequence });
}
