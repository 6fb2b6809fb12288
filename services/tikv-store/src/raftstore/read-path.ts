/**
 * Linearizable reads. A leader whose lease is valid (no other leader can have been elected since a quorum
 * last acknowledged it) and who has applied an entry of its own term answers from its local state at
 * once: every write acknowledged before the read is applied there. Otherwise the read asks raft for a
 * read index (a heartbeat round confirms leadership) and waits until the local applied index reaches it.
 *
 * Reads then go to the kv engine through a RegionReader, which re-checks the region on every call: a
 * reader never returns keys the region no longer owns (after a split) or data of a destroyed peer.
 */
import type { metapb } from "#proto";
import {
  type KvEngine,
  type RawPair,
  type RawScanOptions,
  rawBatchGet,
  rawGet,
  rawScan,
} from "../engine/kv-engine.ts";
import { RocksMvccStorage } from "../engine/txn-data.ts";
import type { MvccStorage } from "../mvcc/mvcc-storage.ts";
import { EpochNotMatchError, RegionNotFoundError } from "./region-errors.ts";
import { epochOf } from "./region-meta.ts";

/** Reads one region's data; each call is one consistent point-in-time read of the kv engine. */
export interface RegionReader {
  /** The region as of the start of the read. */
  readonly region: metapb.Region;
  /**
   * The peer's raft term when the read started. A transactional command computed from this read is
   * proposed only in the same term: a later term may have had another leader change the keys meanwhile.
   */
  readonly term: number;
  /** The region's transactional data (keys are not clipped: the MVCC layer bounds its own scans). */
  readonly mvcc: MvccStorage;
  get(key: Uint8Array): Promise<Uint8Array | undefined>;
  batchGet(keys: readonly Uint8Array[]): Promise<Array<Uint8Array | undefined>>;
  /** Pairs of [startKey, endKey) clipped to the region's range. */
  scan(options: RawScanOptions): Promise<RawPair[]>;
}

/** What a reader checks before each call: the peer still owns the same range and the same data. */
export interface ReadTarget {
  readonly regionId: bigint;
  readonly region: metapb.Region;
  readonly destroyed: boolean;
  /** Changes whenever the peer's data is replaced (a snapshot was installed). */
  readonly dataGeneration: number;
  readonly term: number;
}

export function createRegionReader(kvEngine: KvEngine, target: ReadTarget): RegionReader {
  const region = target.region;
  const generation = target.dataGeneration;
  const version = epochOf(region).version;
  const check = (): void => {
    if (target.destroyed) throw new RegionNotFoundError(target.regionId);
    const current = epochOf(target.region);
    if (current.version !== version || target.dataGeneration !== generation) {
      throw new EpochNotMatchError(region.id, epochOf(region), [target.region]);
    }
  };
  const db = kvEngine.db;
  return {
    region,
    term: target.term,
    mvcc: new RocksMvccStorage(db, check),
    get(key) {
      check();
      return rawGet(db, key);
    },
    batchGet(keys) {
      check();
      return rawBatchGet(db, keys);
    },
    scan(options) {
      check();
      return rawScan(db, clipScan(options, region));
    },
  };
}

function clipScan(options: RawScanOptions, region: metapb.Region): RawScanOptions {
  const startKey = Buffer.compare(options.startKey, region.startKey) < 0 ? region.startKey : options.startKey;
  let endKey = options.endKey;
  if (region.endKey.length > 0 && (endKey.length === 0 || Buffer.compare(endKey, region.endKey) > 0)) {
    endKey = region.endKey;
  }
  return { ...options, startKey, endKey };
}

/** A read waiting for its read index, then for the applied index to reach it. */
export class PendingRead {
  /** Known once raft confirmed it; 0 before. */
  readIndex = 0;
  private settled = false;

  constructor(
    readonly id: bigint,
    readonly deadlineMs: number,
    private readonly onReady: () => void,
    private readonly onFailed: (error: Error) => void,
  ) {}

  /** The 8-byte request context raft echoes in the ReadState. */
  get context(): Uint8Array {
    return readContext(this.id);
  }

  ready(): void {
    if (this.settle()) this.onReady();
  }

  fail(error: Error): void {
    if (this.settle()) this.onFailed(error);
  }

  private settle(): boolean {
    if (this.settled) return false;
    this.settled = true;
    return true;
  }
}

export function readContext(id: bigint): Uint8Array {
  const bytes = new Uint8Array(8);
  new DataView(bytes.buffer).setBigUint64(0, id);
  return bytes;
}

export function readIdOf(context: Uint8Array): bigint | undefined {
  if (context.byteLength !== 8) return undefined;
  return new DataView(context.buffer, context.byteOffset, 8).getBigUint64(0);
}

/** One peer's reads in flight. */
export class PeerReads {
  /** Asked raft, waiting for the ReadState. */
  private readonly awaitingIndex = new Map<bigint, PendingRead>();
  /** Read index known, waiting for apply; in arrival order (read indexes only grow). */
  private awaitingApply: PendingRead[] = [];

  get size(): number {
    return this.awaitingIndex.size + this.awaitingApply.length;
  }

  askedRaft(read: PendingRead): void {
    this.awaitingIndex.set(read.id, read);
  }

  /** Raft confirmed read index `index` for the read with `context`. */
  confirmed(context: Uint8Array, index: number, appliedIndex: number): void {
    const id = readIdOf(context);
    const read = id === undefined ? undefined : this.awaitingIndex.get(id);
    if (read === undefined || id === undefined) return;
    this.awaitingIndex.delete(id);
    read.readIndex = index;
    if (index <= appliedIndex) read.ready();
    else this.awaitingApply.push(read);
  }

  /** The applied index moved: release the reads it covers. */
  applied(appliedIndex: number): void {
    if (this.awaitingApply.length === 0) return;
    const waiting: PendingRead[] = [];
    for (const read of this.awaitingApply) {
      if (read.readIndex <= appliedIndex) read.ready();
      else waiting.push(read);
    }
    this.awaitingApply = waiting;
  }

  /** Fails reads still waiting for raft (leadership changed: raft drops them silently). */
  failUnconfirmed(error: () => Error): void {
    for (const read of this.awaitingIndex.values()) read.fail(error());
    this.awaitingIndex.clear();
  }

  /** Fails reads whose deadline passed. */
  expire(nowMs: number, error: () => Error): void {
    for (const [id, read] of this.awaitingIndex) {
      if (read.deadlineMs <= nowMs) {
        read.fail(error());
        this.awaitingIndex.delete(id);
      }
    }
    const waiting: PendingRead[] = [];
    for (const read of this.awaitingApply) {
      if (read.deadlineMs <= nowMs) read.fail(error());
      else waiting.push(read);
    }
    this.awaitingApply = waiting;
  }

  failAll(error: () => Error): void {
    this.failUnconfirmed(error);
    for (const read of this.awaitingApply) read.fail(error());
    this.awaitingApply = [];
  }
}
