/**
 * The raft node's view of its stable storage: the core's MemoryStorage (holding what the simulated disk
 * made durable), except that snapshots are generated on demand from the current applied state, as
 * TiKV does. A stored snapshot may predate a conf change that added the very node it is meant for, and
 * such a node rightly ignores a snapshot whose configuration does not include it.
 */
import type { Entry, InitialState, MemoryStorage, Snapshot, Storage } from "#raft";
import { type AppliedState, encodeSnapshotData } from "./applied-state.ts";

export class SimStorage implements Storage {
  constructor(
    readonly memory: MemoryStorage,
    private readonly appliedState: () => AppliedState,
  ) {}

  initialState(): InitialState {
    return this.memory.initialState();
  }

  entries(lo: number, hi: number, maxBytes: number): Entry[] {
    return this.memory.entries(lo, hi, maxBytes);
  }

  term(index: number): number {
    return this.memory.term(index);
  }

  firstIndex(): number {
    return this.memory.firstIndex();
  }

  lastIndex(): number {
    return this.memory.lastIndex();
  }

  snapshot(): Snapshot {
    return this.snapshotUpToApplied();
  }

  /** The latest snapshot, first generated at the applied index when that moved past it. */
  snapshotUpToApplied(): Snapshot {
    const latest = this.memory.snapshot();
    const state = this.appliedState();
    if (state.index <= latest.metadata.index || state.index > this.memory.lastIndex()) return latest;
    return this.memory.createSnapshot(
      state.index,
      state.confState,
      encodeSnapshotData(state.index, state.hash),
    );
  }
}
