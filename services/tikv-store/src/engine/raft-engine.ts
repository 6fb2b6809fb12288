/**
 * The raft engine: a second RocksDB, at `<data-dir>/raft`, holding every region's raft log and raft state.
 * Separate from the kv engine so the log's synced appends (the hot path) do not share a write-ahead log
 * with the unsynced bulk of applied data. Region-level operations live in `RaftLogStore`.
 */
import { join } from "node:path";
import { openRocksDb, type RocksDb, type WriteBatch } from "#rocksdb";

/** The raft engine keeps everything in one column family; the key layout (keys.ts) separates regions. */
export const RAFT_ENGINE_COLUMN_FAMILY = "default";

export class RaftEngine {
  private constructor(readonly db: RocksDb) {}

  /** Opens (creating if missing) the raft RocksDB at `<dataDirectory>/raft`. */
  static async open(dataDirectory: string): Promise<RaftEngine> {
    const db = await openRocksDb({
      path: join(dataDirectory, "raft"),
      columnFamilies: [RAFT_ENGINE_COLUMN_FAMILY],
      createIfMissing: true,
    });
    return new RaftEngine(db);
  }

  /** The store loop writes one batch per turn, synced when any region's Ready requires it. */
  write(batch: WriteBatch, options: { readonly sync: boolean }): Promise<void> {
    return this.db.write(batch, options);
  }

  close(): Promise<void> {
    return this.db.close();
  }
}
