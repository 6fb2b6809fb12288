/**
 * Crash simulation for tests: records every write a running store makes to its two engines, in order,
 * and rebuilds what a crash right after any one of them could leave on disk. Each engine is its own
 * RocksDB with its own write-ahead log, so a crash keeps, per engine, a prefix of its writes: at least
 * every write up to its last synced one, at worst nothing after that. The rebuilt image keeps the whole
 * raft engine prefix (as if each of its writes had reached the disk) and only the synced kv prefix (every
 * unsynced kv write lost): the worst combination for anything that deletes raft log entries.
 */
import { cp } from "node:fs/promises";
import { type BatchOperation, type RocksDb, WriteBatch } from "#rocksdb";
import { KvEngine } from "../engine/kv-engine.ts";
import { RaftEngine } from "../engine/raft-engine.ts";
import type { StoreEngines } from "../raftstore/store-context.ts";

export type EngineName = "kv" | "raft";

export interface RecordedWrite {
  readonly engine: EngineName;
  readonly sync: boolean;
  readonly operations: readonly BatchOperation[];
}

export class EngineWriteRecorder {
  readonly writes: RecordedWrite[] = [];

  /**
   * Starts recording the store's writes; `baselineDirectory` must hold a copy of its data directory taken
   * while it was closed, right before it was opened with these engines.
   */
  constructor(
    engines: StoreEngines,
    private readonly baselineDirectory: string,
  ) {
    this.record("kv", engines.kvEngine.db);
    this.record("raft", engines.raftLogStore.engine.db);
  }

  /**
   * A data directory as a crash right after write number `position` (0-based) may leave it: the baseline,
   * the raft writes up to `position`, the kv writes up to the last synced one at or before `position`.
   */
  async crashImage(position: number, directory: string): Promise<void> {
    await cp(this.baselineDirectory, directory, { recursive: true });
    const prefix = this.writes.slice(0, position + 1);
    const lastSyncedKv = prefix.findLastIndex((write) => write.engine === "kv" && write.sync);
    const kvEngine = await KvEngine.open(directory);
    const raftEngine = await RaftEngine.open(directory);
    try {
      for (const [index, write] of prefix.entries()) {
        if (write.engine === "raft") await raftEngine.write(batchOf(write), { sync: false });
        else if (index <= lastSyncedKv) await kvEngine.write(batchOf(write), { sync: false });
      }
    } finally {
      await Promise.all([kvEngine.close(), raftEngine.close()]);
    }
  }

  private record(engine: EngineName, db: RocksDb): void {
    const write = db.write.bind(db);
    db.write = async (batch, options) => {
      // Copied: the batch's arrays belong to the store once the write is done.
      const operations = batch.operations.map(copyOperation);
      await write(batch, options);
      this.writes.push({ engine, sync: options.sync, operations });
    };
  }
}

function copyOperation(operation: BatchOperation): BatchOperation {
  switch (operation.kind) {
    case "put":
      return { ...operation, key: Uint8Array.from(operation.key), value: Uint8Array.from(operation.value) };
    case "delete":
      return { ...operation, key: Uint8Array.from(operation.key) };
    case "delete-range":
      return {
        ...operation,
        start: Uint8Array.from(operation.start),
        end: operation.end === undefined ? undefined : Uint8Array.from(operation.end),
      };
    default:
      return operation satisfies never;
  }
}

function batchOf(write: RecordedWrite): WriteBatch {
  const batch = new WriteBatch();
  for (const operation of write.operations) {
    if (operation.kind === "put") batch.put(operation.columnFamily, operation.key, operation.value);
    else if (operation.kind === "delete") batch.delete(operation.columnFamily, operation.key);
    else batch.deleteRange(operation.columnFamily, operation.start, operation.end);
  }
  return batch;
}
