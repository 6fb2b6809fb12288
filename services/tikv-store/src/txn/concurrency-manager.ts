/**
 * What makes async commit and 1PC safe on this store (a transaction is committed as soon as its
 * prewrites succeed, at a commit_ts chosen by the stores, not by a TSO call after them):
 *
 * - `max_ts`, the highest read timestamp this store has served. A prewrite picks min_commit_ts above it,
 *   so no read that already happened can have missed a version committed below its read_ts.
 * - a memory lock table: keys of async-commit prewrites between choosing min_commit_ts and their locks
 *   being applied. A reader arriving in that window sees the memory lock and treats it as a real lock.
 *
 * Ordering makes it airtight: a reader raises max_ts before it checks the table; a prewrite publishes its
 * keys in the table before it reads max_ts. Either the prewrite sees the reader's read_ts, or the reader
 * sees the prewrite's lock.
 *
 * A new leader (or both halves of a split) may not know the max_ts its predecessor served, so before a
 * region accepts async-commit prewrites its max_ts is raised from a fresh TSO timestamp, once per leader
 * term and region version.
 */
import { compareBytes } from "#codec";
import type { KeyError } from "../mvcc/key-error.ts";
import type { LockRecord } from "../mvcc/lock-record.ts";
import { lockBlocksRead, type ReadOptions } from "../mvcc/snapshot-reader.ts";

export interface MemoryLockGuard {
  release(): void;
}

interface MemoryLock {
  readonly key: Uint8Array;
  readonly lock: LockRecord;
}

export class ConcurrencyManager {
  private maxTsValue = 0n;
  private readonly memoryLocks = new Map<string, MemoryLock>();
  /** regionId → "term/version" its max_ts was last synced for. */
  private readonly synced = new Map<bigint, string>();

  get maxTs(): bigint {
    return this.maxTsValue;
  }

  get memoryLockCount(): number {
    return this.memoryLocks.size;
  }

  updateMaxTs(ts: bigint): void {
    if (ts > this.maxTsValue) this.maxTsValue = ts;
  }

  /**
   * Publishes the locks a prewrite is about to write and returns max_ts as read after publishing. The
   * caller sets min_commit_ts above it in the same synchronous step (see the file comment).
   */
  lockKeys(locks: ReadonlyArray<{ readonly key: Uint8Array; readonly lock: LockRecord }>): {
    readonly guard: MemoryLockGuard;
    readonly maxTs: bigint;
  } {
    const names: string[] = [];
    for (const entry of locks) {
      const name = keyName(entry.key);
      if (this.memoryLocks.has(name)) continue;
      this.memoryLocks.set(name, entry);
      names.push(name);
    }
    let released = false;
    return {
      maxTs: this.maxTsValue,
      guard: {
        release: () => {
          if (released) return;
          released = true;
          for (const name of names) this.memoryLocks.delete(name);
        },
      },
    };
  }

  /** Updates the lock a prewrite published once it knows its min_commit_ts. */
  setMinCommitTs(keys: readonly Uint8Array[], minCommitTs: bigint): void {
    for (const key of keys) {
      const name = keyName(key);
      const entry = this.memoryLocks.get(name);
      if (entry !== undefined)
        this.memoryLocks.set(name, { key: entry.key, lock: { ...entry.lock, minCommitTs } });
    }
  }

  /** A read at `options.readTs` of `keys`: raises max_ts, then reports a memory lock that blocks it. */
  readKeys(keys: readonly Uint8Array[], options: ReadOptions): KeyError | undefined {
    this.updateMaxTs(options.readTs);
    if (this.memoryLocks.size === 0) return undefined;
    for (const key of keys) {
      const entry = this.memoryLocks.get(keyName(key));
      if (entry !== undefined && lockBlocksRead(entry.lock, options)) {
        return { kind: "locked", key: entry.key, lock: entry.lock };
      }
    }
    return undefined;
  }

  /** Like readKeys for the user key range [startKey, endKey) (empty endKey = unbounded). */
  readRange(startKey: Uint8Array, endKey: Uint8Array, options: ReadOptions): KeyError | undefined {
    this.updateMaxTs(options.readTs);
    for (const entry of this.memoryLocks.values()) {
      const inRange =
        compareBytes(entry.key, startKey) >= 0 &&
        (endKey.length === 0 || compareBytes(entry.key, endKey) < 0);
      if (inRange && lockBlocksRead(entry.lock, options)) {
        return { kind: "locked", key: entry.key, lock: entry.lock };
      }
    }
    return undefined;
  }

  /** Whether the region's max_ts was synced for this leader term and region version. */
  isSynced(regionId: bigint, term: number, version: bigint): boolean {
    return this.synced.get(regionId) === `${term}/${version}`;
  }

  /** Raises max_ts to a timestamp fetched from the TSO after the region's leader term began. */
  markSynced(regionId: bigint, term: number, version: bigint, tsoTs: bigint): void {
    this.updateMaxTs(tsoTs);
    this.synced.set(regionId, `${term}/${version}`);
  }
}

function keyName(key: Uint8Array): string {
  return Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString("latin1");
}
