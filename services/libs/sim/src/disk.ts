/**
 * A simulated durable key/value store for crash tests. Writes land in a volatile layer (the OS page cache)
 * and become durable only on `sync()` (fsync); `crash()` loses everything not synced, as a power cut does.
 * Reads see the latest write, synced or not, until the crash.
 *
 * Optionally a crash is "torn": the disk had already persisted some of the unsynced batches, in the order
 * they were written, and lost the rest. A batch is atomic (like a RocksDB write batch): kept whole or lost
 * whole. Values are stored by reference: treat them as immutable.
 */
import type { Random } from "#runtime";

export type DiskWrite<V> =
  | { readonly kind: "put"; readonly key: string; readonly value: V }
  | { readonly kind: "delete"; readonly key: string };

export interface SimDiskOptions {
  /** Chance that a crash keeps a random prefix of the unsynced batches instead of none [0]. */
  readonly tornWriteProbability?: number;
  /** Required when tornWriteProbability > 0; give the disk its own fork of the simulation's random. */
  readonly random?: Random;
  /** Bound on batches waiting for a sync; more means the code under test never syncs [1_000_000]. */
  readonly maxUnsyncedBatches?: number;
}

export interface CrashOutcome {
  /** Unsynced batches that survived (a torn crash), oldest first. */
  readonly keptBatches: number;
  readonly lostBatches: number;
}

export class SimulatedDiskError extends Error {
  constructor(readonly operation: string) {
    super(`simulated disk failure during ${operation}`);
    this.name = "SimulatedDiskError";
  }
}

const DELETED: unique symbol = Symbol("deleted");
const DEFAULT_MAX_UNSYNCED_BATCHES = 1_000_000;

export class SimDisk<V extends NonNullable<unknown>> {
  private readonly durable = new Map<string, V>();
  /** Latest unsynced value of each key written since the last sync, shadowing `durable`. */
  private readonly volatile = new Map<string, V | typeof DELETED>();
  private unsyncedBatches: (readonly DiskWrite<V>[])[] = [];
  private readonly tornWriteProbability: number;
  private readonly random: Random | undefined;
  private readonly maxUnsyncedBatches: number;
  private syncsToFail = 0;
  private completedSyncs = 0;

  constructor(options: SimDiskOptions = {}) {
    this.tornWriteProbability = options.tornWriteProbability ?? 0;
    this.random = options.random;
    this.maxUnsyncedBatches = options.maxUnsyncedBatches ?? DEFAULT_MAX_UNSYNCED_BATCHES;
    if (!(this.tornWriteProbability >= 0 && this.tornWriteProbability <= 1)) {
      throw new RangeError(`tornWriteProbability must be in [0, 1], got ${this.tornWriteProbability}`);
    }
    if (this.tornWriteProbability > 0 && this.random === undefined) {
      throw new RangeError("a SimDisk with tornWriteProbability > 0 needs a seeded random");
    }
  }

  get unsyncedBatchCount(): number {
    return this.unsyncedBatches.length;
  }

  /** Syncs that completed; lets a test check that the code under test synced before it acknowledged. */
  get syncCount(): number {
    return this.completedSyncs;
  }

  get(key: string): V | undefined {
    const unsynced = this.volatile.get(key);
    if (unsynced === undefined) return this.durable.get(key);
    return unsynced === DELETED ? undefined : unsynced;
  }

  has(key: string): boolean {
    const unsynced = this.volatile.get(key);
    return unsynced === undefined ? this.durable.has(key) : unsynced !== DELETED;
  }

  /** Keys currently visible (synced or not), sorted. */
  keys(): string[] {
    const visible = new Set(this.durable.keys());
    for (const [key, value] of this.volatile) {
      if (value === DELETED) visible.delete(key);
      else visible.add(key);
    }
    return [...visible].sort();
  }

  put(key: string, value: V): void {
    this.write([{ kind: "put", key, value }]);
  }

  delete(key: string): void {
    this.write([{ kind: "delete", key }]);
  }

  /** Applies `batch` atomically: a torn crash keeps it whole or loses it whole. */
  write(batch: readonly DiskWrite<V>[]): void {
    if (this.unsyncedBatches.length >= this.maxUnsyncedBatches) {
      throw new RangeError(
        `SimDisk has ${this.maxUnsyncedBatches} unsynced batches (limit); sync more often`,
      );
    }
    const copy = [...batch];
    this.unsyncedBatches.push(copy);
    for (const write of copy) this.volatile.set(write.key, write.kind === "put" ? write.value : DELETED);
  }

  /** Makes every write so far durable; returns how many batches it persisted. */
  sync(): number {
    if (this.syncsToFail > 0) {
      this.syncsToFail--;
      throw new SimulatedDiskError("sync");
    }
    const persisted = this.unsyncedBatches.length;
    this.persist(this.unsyncedBatches);
    this.unsyncedBatches = [];
    this.volatile.clear();
    this.completedSyncs++;
    return persisted;
  }

  /** The next `count` syncs throw `SimulatedDiskError` and persist nothing (their writes stay unsynced). */
  failSyncs(count: number): void {
    if (!Number.isSafeInteger(count) || count < 0)
      throw new RangeError(`failSyncs count must be >= 0, got ${count}`);
    this.syncsToFail = count;
  }

  /**
   * Loses the unsynced writes (all of them, or in torn mode possibly only a suffix of them). Pending
   * `failSyncs` faults are cleared too: the disk comes back healthy with the restarted process.
   */
  crash(): CrashOutcome {
    const unsynced = this.unsyncedBatches;
    const keptBatches = this.tornPrefixLength(unsynced.length);
    this.persist(unsynced.slice(0, keptBatches));
    this.unsyncedBatches = [];
    this.volatile.clear();
    this.syncsToFail = 0;
    return { keptBatches, lostBatches: unsynced.length - keptBatches };
  }

  private tornPrefixLength(unsyncedCount: number): number {
    const random = this.random;
    if (unsyncedCount === 0 || this.tornWriteProbability === 0 || random === undefined) return 0;
    return random.chance(this.tornWriteProbability) ? random.intBelow(unsyncedCount + 1) : 0;
  }

  private persist(batches: readonly (readonly DiskWrite<V>[])[]): void {
    for (const batch of batches) {
      for (const write of batch) {
        if (write.kind === "put") this.durable.set(write.key, write.value);
        else this.durable.delete(write.key);
      }
    }
  }
}
