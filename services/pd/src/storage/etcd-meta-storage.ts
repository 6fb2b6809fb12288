import type { IRequestOp, ITxnResponse, Namespace } from "etcd3";
import { NotLeaderError, StorageError } from "./errors.ts";
import type { EtcdElection } from "./etcd-election.ts";
import { DATA_PREFIX, dataKey, LEADER_KEY } from "./etcd-layout.ts";
import { prefixEnd } from "./meta-keys.ts";
import { checkBatchSize, checkLoadRangeLimit, type KeyValue, type MetaStorage } from "./meta-storage.ts";

type Operation = IRequestOp | { op(): Promise<IRequestOp> };

const asBuffer = (bytes: Uint8Array): Buffer =>
  Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);

/** Metadata in etcd under `<root>/data/`; writes are transactions guarded by this member's leader term. */
export class EtcdMetaStorage implements MetaStorage {
  constructor(
    private readonly root: Namespace,
    private readonly election: EtcdElection,
  ) {}

  async load(key: string): Promise<Uint8Array | undefined> {
    try {
      return (await this.root.get(dataKey(key)).buffer()) ?? undefined;
    } catch (error) {
      throw StorageError.wrap("load", key, error);
    }
  }

  async loadRange(startKey: string, endKey: string, limit: number): Promise<KeyValue[]> {
    checkLoadRangeLimit(limit);
    const end = endKey === "" ? prefixEnd(DATA_PREFIX) : dataKey(endKey);
    try {
      const response = await this.root
        .getAll()
        .inRange({ start: dataKey(startKey), end })
        .limit(limit)
        .sort("Key", "Ascend")
        .exec();
      return response.kvs.map((kv) => ({
        key: kv.key.toString("utf8").slice(DATA_PREFIX.length),
        value: kv.value,
      }));
    } catch (error) {
      throw StorageError.wrap("loadRange", startKey, error);
    }
  }

  save(key: string, value: Uint8Array): Promise<void> {
    return this.guardedWrite("save", key, [this.root.put(dataKey(key)).value(asBuffer(value))]);
  }

  async saveBatch(puts: ReadonlyArray<KeyValue>, deletes: readonly string[] = []): Promise<void> {
    checkBatchSize(puts.length + deletes.length);
    const operations: Operation[] = [
      ...puts.map(({ key, value }) => this.root.put(dataKey(key)).value(asBuffer(value))),
      ...deletes.map((key) => this.root.delete().key(dataKey(key))),
    ];
    await this.guardedWrite("saveBatch", puts[0]?.key ?? deletes[0], operations);
  }

  remove(key: string): Promise<void> {
    return this.guardedWrite("remove", key, [this.root.delete().key(dataKey(key))]);
  }

  /**
   * Runs the operations only if the leader key still has the create revision of this member's term and
   * holds this member's record, so a member deposed a moment ago cannot overwrite its successor's state. On refusal the current leader,
   * read in the same transaction, goes into the NotLeaderError.
   */
  private async guardedWrite(
    operation: string,
    key: string | undefined,
    operations: Operation[],
  ): Promise<void> {
    const guard = this.election.leadershipGuard();
    if (guard === undefined) throw new NotLeaderError(operation, this.election.leader());
    if (operations.length === 0) return;
    let response: ITxnResponse;
    try {
      response = await this.root
        .if(LEADER_KEY, "Create", "==", guard.revision)
        .and(LEADER_KEY, "Value", "==", guard.record)
        .then(...operations)
        .else(this.root.get(LEADER_KEY))
        .commit();
    } catch (error) {
      throw StorageError.wrap(operation, key, error);
    }
    if (response.succeeded) return;
    const current = response.responses[0]?.response_range.kvs[0];
    const leader = current ? this.election.decodeOrSkip(current.value) : undefined;
    this.election.noteWriteRejected(leader, response.header.revision);
    throw new NotLeaderError(operation, leader);
  }
}
