/**
 * Single-member pd: metadata in a local RocksDB, this member always the leader. Every write is synced
 * before it resolves, so acknowledged metadata (TSO window, id block, regions) survives a crash.
 * RocksDB's lock file keeps a second pd process from opening the same data directory.
 */
import { join } from "node:path";
import { openRocksDb, type RocksDb, WriteBatch } from "#rocksdb";
import type { Election, LeadershipListener } from "./election.ts";
import { StorageError } from "./errors.ts";
import type { MemberInfo } from "./member.ts";
import { checkBatchSize, checkLoadRangeLimit, type KeyValue, type MetaStorage } from "./meta-storage.ts";
import type { PdBackend } from "./pd-backend.ts";

const COLUMN_FAMILY = "meta";
const SYNCED = { sync: true } as const;

export interface EmbeddedBackendOptions {
  readonly dataDir: string;
  readonly self: MemberInfo;
}

export async function openEmbeddedBackend(options: EmbeddedBackendOptions): Promise<PdBackend> {
  let db: RocksDb;
  try {
    db = await openRocksDb({
      path: join(options.dataDir, "meta"),
      columnFamilies: [COLUMN_FAMILY],
      createIfMissing: true,
    });
  } catch (error) {
    throw StorageError.wrap("open", undefined, error);
  }
  return {
    storage: new EmbeddedMetaStorage(db),
    election: new SoleMemberElection(options.self),
    close: () => db.close(),
  };
}

const encodeKey = (key: string): Buffer => Buffer.from(key, "utf8");

class EmbeddedMetaStorage implements MetaStorage {
  constructor(private readonly db: RocksDb) {}

  async load(key: string): Promise<Uint8Array | undefined> {
    return this.guard("load", key, () => this.db.get(COLUMN_FAMILY, encodeKey(key)));
  }

  async loadRange(startKey: string, endKey: string, limit: number): Promise<KeyValue[]> {
    checkLoadRangeLimit(limit);
    const entries = await this.guard("loadRange", startKey, () =>
      this.db.scan(COLUMN_FAMILY, {
        gte: encodeKey(startKey),
        ...(endKey !== "" && { lt: encodeKey(endKey) }),
        limit,
      }),
    );
    return entries.map((entry) => ({ key: Buffer.from(entry.key).toString("utf8"), value: entry.value }));
  }

  async save(key: string, value: Uint8Array): Promise<void> {
    await this.guard("save", key, () => this.db.put(COLUMN_FAMILY, encodeKey(key), value, SYNCED));
  }

  async saveBatch(puts: ReadonlyArray<KeyValue>, deletes: readonly string[] = []): Promise<void> {
    checkBatchSize(puts.length + deletes.length);
    const batch = new WriteBatch();
    for (const { key, value } of puts) batch.put(COLUMN_FAMILY, encodeKey(key), value);
    for (const key of deletes) batch.delete(COLUMN_FAMILY, encodeKey(key));
    await this.guard("saveBatch", puts[0]?.key ?? deletes[0], () => this.db.write(batch, SYNCED));
  }

  async remove(key: string): Promise<void> {
    await this.guard("remove", key, () => this.db.delete(COLUMN_FAMILY, encodeKey(key), SYNCED));
  }

  private async guard<T>(operation: string, key: string | undefined, action: () => Promise<T>): Promise<T> {
    try {
      return await action();
    } catch (error) {
      throw StorageError.wrap(operation, key, error);
    }
  }
}

/** With one member there is nothing to elect: it leads from open to close and never changes. */
class SoleMemberElection implements Election {
  readonly isLeader = true;

  constructor(private readonly self: MemberInfo) {}

  leader(): MemberInfo {
    return this.self;
  }

  async members(): Promise<MemberInfo[]> {
    return [this.self];
  }

  onLeadershipChange(_listener: LeadershipListener): () => void {
    return () => {};
  }

  /** Nobody could take over, so resigning would only make the cluster unavailable; it is ignored. */
  async resign(): Promise<void> {}
}
