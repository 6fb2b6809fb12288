/**
 * One node's durable raft state on a `SimDisk`: hard state, snapshot, log entries by index and the
 * applied state. Every Ready is written as one atomic batch when it is handed out and becomes durable only
 * at the next sync, so a crash loses exactly the Readys whose simulated fsync had not finished (or, on a
 * torn crash, a suffix of them). Batches are written in the order the node produced them, so whatever a
 * crash keeps is a consistent prefix of the node's history.
 */
import type { Entry, HardState, Snapshot } from "#raft";
import { type CrashOutcome, type DiskWrite, SimDisk, type SimDiskOptions } from "#sim";
import type { AppliedState } from "./applied-state.ts";

export type DiskRecord =
  | { readonly kind: "hard-state"; readonly hardState: HardState }
  | { readonly kind: "snapshot"; readonly snapshot: Snapshot }
  | { readonly kind: "entry"; readonly entry: Entry }
  | { readonly kind: "last-index"; readonly index: number }
  | { readonly kind: "applied"; readonly state: AppliedState };

export interface ReadyWrite {
  readonly entries: readonly Entry[];
  readonly hardState?: HardState;
  readonly snapshot?: Snapshot;
  /** The state machine image the snapshot restores, written in the same batch as the snapshot. */
  readonly snapshotState?: AppliedState;
}

export interface LoadedRaftState {
  readonly snapshot: Snapshot | undefined;
  readonly hardState: HardState;
  /** The log after the snapshot, in index order. */
  readonly entries: readonly Entry[];
  readonly applied: AppliedState | undefined;
}

const HARD_STATE_KEY = "hard-state";
const SNAPSHOT_KEY = "snapshot";
const LAST_INDEX_KEY = "last-index";
const APPLIED_KEY = "applied";
const entryKey = (index: number): string => `entry/${index}`;

export class CorruptDiskError extends Error {
  constructor(detail: string) {
    super(`simulated raft disk is inconsistent: ${detail}`);
    this.name = "CorruptDiskError";
  }
}

export class RaftDisk {
  private readonly disk: SimDisk<DiskRecord>;

  constructor(options: SimDiskOptions) {
    this.disk = new SimDisk<DiskRecord>(options);
  }

  get hasUnsyncedWrites(): boolean {
    return this.disk.unsyncedBatchCount > 0;
  }

  writeReady(ready: ReadyWrite): void {
    const writes: DiskWrite<DiskRecord>[] = [];
    let lastIndex = this.lastIndex();
    if (ready.snapshot !== undefined) {
      // Installing a snapshot replaces the whole log.
      this.deleteEntries(writes, this.snapshotIndex() + 1, lastIndex);
      writes.push({ kind: "put", key: SNAPSHOT_KEY, value: { kind: "snapshot", snapshot: ready.snapshot } });
      if (ready.snapshotState !== undefined) {
        writes.push({
          kind: "put",
          key: APPLIED_KEY,
          value: { kind: "applied", state: ready.snapshotState },
        });
      }
      lastIndex = ready.snapshot.metadata.index;
    }
    if (ready.entries.length > 0) {
      for (const entry of ready.entries)
        writes.push({ kind: "put", key: entryKey(entry.index), value: { kind: "entry", entry } });
      const newLastIndex = ready.entries[ready.entries.length - 1]!.index;
      // Entries past the new end belonged to a conflicting suffix the new entries replace.
      this.deleteEntries(writes, newLastIndex + 1, lastIndex);
      lastIndex = newLastIndex;
    }
    if (ready.snapshot !== undefined || ready.entries.length > 0) {
      writes.push({ kind: "put", key: LAST_INDEX_KEY, value: { kind: "last-index", index: lastIndex } });
    }
    if (ready.hardState !== undefined) {
      writes.push({
        kind: "put",
        key: HARD_STATE_KEY,
        value: { kind: "hard-state", hardState: ready.hardState },
      });
    }
    if (writes.length > 0) this.disk.write(writes);
  }

  writeApplied(state: AppliedState): void {
    this.disk.put(APPLIED_KEY, { kind: "applied", state });
  }

  /** Replaces the log up to the snapshot's index by the snapshot (log compaction). */
  writeCompaction(snapshot: Snapshot, applied: AppliedState): void {
    const writes: DiskWrite<DiskRecord>[] = [];
    this.deleteEntries(writes, this.snapshotIndex() + 1, snapshot.metadata.index);
    writes.push({ kind: "put", key: SNAPSHOT_KEY, value: { kind: "snapshot", snapshot } });
    writes.push({ kind: "put", key: APPLIED_KEY, value: { kind: "applied", state: applied } });
    this.disk.write(writes);
  }

  sync(): void {
    this.disk.sync();
  }

  crash(): CrashOutcome {
    return this.disk.crash();
  }

  /** Index of the snapshot on disk (0 without one); the log on disk starts right after it. */
  snapshotIndex(): number {
    const record = this.disk.get(SNAPSHOT_KEY);
    return record?.kind === "snapshot" ? record.snapshot.metadata.index : 0;
  }

  load(): LoadedRaftState {
    const snapshotRecord = this.disk.get(SNAPSHOT_KEY);
    const snapshot = snapshotRecord?.kind === "snapshot" ? snapshotRecord.snapshot : undefined;
    const hardStateRecord = this.disk.get(HARD_STATE_KEY);
    const hardState =
      hardStateRecord?.kind === "hard-state" ? hardStateRecord.hardState : { term: 0, vote: 0, commit: 0 };
    const appliedRecord = this.disk.get(APPLIED_KEY);
    const entries: Entry[] = [];
    for (let index = this.snapshotIndex() + 1; index <= this.lastIndex(); index++) {
      const record = this.disk.get(entryKey(index));
      if (record?.kind !== "entry")
        throw new CorruptDiskError(`entry ${index} is missing below the last index ${this.lastIndex()}`);
      entries.push(record.entry);
    }
    return {
      snapshot,
      hardState,
      entries,
      applied: appliedRecord?.kind === "applied" ? appliedRecord.state : undefined,
    };
  }

  private lastIndex(): number {
    const record = this.disk.get(LAST_INDEX_KEY);
    return record?.kind === "last-index" ? record.index : this.snapshotIndex();
  }

  private deleteEntries(writes: DiskWrite<DiskRecord>[], from: number, to: number): void {
    for (let index = from; index <= to; index++) writes.push({ kind: "delete", key: entryKey(index) });
  }
}
