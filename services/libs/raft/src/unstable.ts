import { RaftInvariantError } from "./errors.ts";
import type { Entry, NodeId, Snapshot } from "./types.ts";

/**
 * The tail of the log that is not yet known to be durable: entries (and possibly an incoming snapshot) that
 * were appended in memory and are either waiting to be handed out in a Ready or being persisted by the
 * application. Entries leave only when the application reports them durable (`stableTo`), so stable storage
 * never has to serve an entry before it was written.
 *
 * `offset` is the index of `entries[0]`. Entries below `inProgressOffset` and the snapshot when
 * `snapshotInProgress` have been handed out in a Ready already.
 */
export class Unstable {
  snapshot: Snapshot | undefined = undefined;
  snapshotInProgress = false;
  entries: Entry[] = [];
  offset: number;
  inProgressOffset: number;

  constructor(
    private readonly nodeId: NodeId,
    offset: number,
  ) {
    this.offset = offset;
    this.inProgressOffset = offset;
  }

  /** First log index when a snapshot is pending (the log starts right after it). */
  maybeFirstIndex(): number | undefined {
    return this.snapshot === undefined ? undefined : this.snapshot.metadata.index + 1;
  }

  maybeLastIndex(): number | undefined {
    if (this.entries.length > 0) return this.offset + this.entries.length - 1;
    return this.snapshot === undefined ? undefined : this.snapshot.metadata.index;
  }

  maybeTerm(index: number): number | undefined {
    if (index < this.offset) {
      const snapshot = this.snapshot;
      if (snapshot !== undefined && snapshot.metadata.index === index) return snapshot.metadata.term;
      return undefined;
    }
    const position = index - this.offset;
    return position < this.entries.length ? this.entries[position]!.term : undefined;
  }

  hasEntriesToHandOut(): boolean {
    return this.inProgressOffset < this.offset + this.entries.length;
  }

  /** Entries not yet handed out in a Ready (a copy). */
  entriesToHandOut(): Entry[] {
    return this.entries.slice(this.inProgressOffset - this.offset);
  }

  snapshotToHandOut(): Snapshot | undefined {
    return this.snapshotInProgress ? undefined : this.snapshot;
  }

  /** Marks everything currently held as handed out to the application. */
  acceptInProgress(): void {
    this.inProgressOffset = this.offset + this.entries.length;
    if (this.snapshot !== undefined) this.snapshotInProgress = true;
  }

  /**
   * Entries up to `index` are durable: drop them. Ignored when the entry at `index` is no longer the one
   * that was written (`term` differs) or already left the unstable log.
   */
  stableTo(index: number, term: number): boolean {
    if (index < this.offset) return false;
    if (this.maybeTerm(index) !== term) return false;
    this.entries.splice(0, index + 1 - this.offset);
    this.offset = index + 1;
    if (this.inProgressOffset < this.offset) this.inProgressOffset = this.offset;
    return true;
  }

  stableSnapshotTo(index: number): boolean {
    if (this.snapshot === undefined || this.snapshot.metadata.index !== index) return false;
    this.snapshot = undefined;
    this.snapshotInProgress = false;
    return true;
  }

  /** Replaces the whole log with an incoming snapshot. */
  restore(snapshot: Snapshot): void {
    this.offset = snapshot.metadata.index + 1;
    this.inProgressOffset = this.offset;
    this.entries = [];
    this.snapshot = snapshot;
    this.snapshotInProgress = false;
  }

  /**
   * Appends `entries[from..]`, first dropping any held entries at or after the first new index (they
   * conflict). Entries at or above `inProgressOffset` must be handed out again.
   */
  truncateAndAppend(entries: readonly Entry[], from: number): void {
    const firstNew = entries[from]!.index;
    const end = this.offset + this.entries.length;
    if (firstNew === end) {
      // The common case: a plain append.
    } else if (firstNew <= this.offset) {
      this.entries = [];
      this.offset = firstNew;
      this.inProgressOffset = firstNew;
    } else if (firstNew < end) {
      this.entries.length = firstNew - this.offset;
      if (this.inProgressOffset > firstNew) this.inProgressOffset = firstNew;
    } else {
      throw new RaftInvariantError(this.nodeId, `append at ${firstNew} leaves a gap after ${end - 1}`);
    }
    for (let i = from; i < entries.length; i++) this.entries.push(entries[i]!);
  }

  appendOne(entry: Entry): void {
    if (entry.index !== this.offset + this.entries.length) {
      throw new RaftInvariantError(this.nodeId, `append of ${entry.index} is not at the log end`);
    }
    this.entries.push(entry);
  }

  /** Entries in [lo, hi), which must lie within the unstable entries (a copy). */
  slice(lo: number, hi: number): Entry[] {
    if (lo < this.offset || hi > this.offset + this.entries.length || lo > hi) {
      throw new RaftInvariantError(
        this.nodeId,
        `unstable slice [${lo}, ${hi}) outside [${this.offset}, ${this.offset + this.entries.length})`,
      );
    }
    return this.entries.slice(lo - this.offset, hi - this.offset);
  }
}
