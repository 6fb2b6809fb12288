import { RaftInvariantError } from "./errors.ts";
import { CompactedError, type Storage, UnavailableError } from "./storage.ts";
import {
  countWithinSize,
  type Entry,
  EntryType,
  entrySizeBytes,
  type NodeId,
  type Snapshot,
} from "./types.ts";
import { Unstable } from "./unstable.ts";

/**
 * The raft log as one sequence: a stable prefix served by Storage and an unstable suffix held in memory,
 * plus the indexes that move along it. Invariants:
 *   applied <= applying <= committed <= lastIndex, and firstIndex - 1 <= committed.
 * `applying` is the last committed entry handed out in a Ready; `applied` the last the application has
 * reported applied. Committed entries are handed out only once they are durable locally.
 */
export class RaftLog {
  readonly unstable: Unstable;
  committed: number;
  applying: number;
  applied: number;

  constructor(
    private readonly nodeId: NodeId,
    readonly storage: Storage,
    private readonly maxApplyingBytes: number,
  ) {
    const firstIndex = storage.firstIndex();
    const lastIndex = storage.lastIndex();
    this.unstable = new Unstable(nodeId, lastIndex + 1);
    this.committed = firstIndex - 1;
    this.applying = firstIndex - 1;
    this.applied = firstIndex - 1;
  }

  firstIndex(): number {
    return this.unstable.maybeFirstIndex() ?? this.storage.firstIndex();
  }

  lastIndex(): number {
    return this.unstable.maybeLastIndex() ?? this.storage.lastIndex();
  }

  /** Term of `index`, or undefined when it is compacted away or beyond the log. */
  term(index: number): number | undefined {
    const unstableTerm = this.unstable.maybeTerm(index);
    if (unstableTerm !== undefined) return unstableTerm;
    if (index < this.firstIndex() - 1 || index > this.lastIndex()) return undefined;
    try {
      return this.storage.term(index);
    } catch (error) {
      if (error instanceof CompactedError || error instanceof UnavailableError) return undefined;
      throw error;
    }
  }

  termOrZero(index: number): number {
    return this.term(index) ?? 0;
  }

  lastTerm(): number {
    const lastIndex = this.lastIndex();
    const term = this.term(lastIndex);
    if (term === undefined) {
      throw new RaftInvariantError(this.nodeId, `term of the last index ${lastIndex} is unavailable`);
    }
    return term;
  }

  matchTerm(index: number, term: number): boolean {
    return this.term(index) === term;
  }

  /** Raft's election restriction: is a log ending at (lastIndex, lastTerm) at least as up to date as ours? */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    const ourLastTerm = this.lastTerm();
    return lastTerm > ourLastTerm || (lastTerm === ourLastTerm && lastIndex >= this.lastIndex());
  }

  /** Position in `entries` of the first entry that is missing or differs from our log; -1 when none. */
  findConflict(entries: readonly Entry[]): number {
    for (let i = 0; i < entries.length; i++) {
      const entry = entries[i]!;
      if (!this.matchTerm(entry.index, entry.term)) return i;
    }
    return -1;
  }

  /**
   * The largest index <= `index` whose term is <= `term`: every index above it has a larger term locally, so
   * logs cannot match there. Used on both sides of a rejected append to skip diverging terms at once.
   */
  findConflictByTerm(index: number, term: number): number {
    for (; index > 0; index--) {
      const ourTerm = this.term(index);
      if (ourTerm === undefined || ourTerm <= term) return index;
    }
    return 0;
  }

  /**
   * Follower side of an append: if our log matches (prevIndex, prevTerm), keep the matching prefix of
   * `entries`, replace any conflicting suffix, and advance the commit index. Returns the index of the last
   * entry of the append, or -1 when the logs do not match at prevIndex.
   */
  maybeAppend(prevIndex: number, prevTerm: number, committed: number, entries: readonly Entry[]): number {
    if (!this.matchTerm(prevIndex, prevTerm)) return -1;
    const lastNewIndex = prevIndex + entries.length;
    const conflictPosition = this.findConflict(entries);
    if (conflictPosition >= 0) {
      const conflictIndex = entries[conflictPosition]!.index;
      if (conflictIndex <= this.committed) {
        throw new RaftInvariantError(
          this.nodeId,
          `entry ${conflictIndex} conflicts with committed entry (committed ${this.committed})`,
        );
      }
      this.append(entries, conflictPosition);
    }
    this.commitTo(Math.min(committed, lastNewIndex));
    return lastNewIndex;
  }

  /** Appends `entries[from..]`, truncating any conflicting uncommitted suffix. */
  append(entries: readonly Entry[], from = 0): void {
    if (from >= entries.length) return;
    const after = entries[from]!.index - 1;
    if (after < this.committed) {
      throw new RaftInvariantError(
        this.nodeId,
        `append after ${after} would overwrite committed ${this.committed}`,
      );
    }
    this.unstable.truncateAndAppend(entries, from);
  }

  /** Leader hot path: append one entry at the end of the log. */
  appendOne(entry: Entry): void {
    this.unstable.appendOne(entry);
  }

  commitTo(index: number): void {
    if (this.committed >= index) return;
    const lastIndex = this.lastIndex();
    if (index > lastIndex) {
      throw new RaftInvariantError(
        this.nodeId,
        `commit ${index} is past the last index ${lastIndex}: was the log truncated or lost?`,
      );
    }
    this.committed = index;
  }

  /**
   * Leader side: commit `index` if it carries `term` (the leader's own term). Entries of older terms are
   * committed only indirectly, by a later own-term entry (raft paper §5.4.2, Figure 8), unless
   * `commitOlderTerms` (a test hook injecting that bug) says otherwise.
   */
  maybeCommit(index: number, term: number, commitOlderTerms: boolean): boolean {
    if (index <= this.committed) return false;
    if (!commitOlderTerms && this.termOrZero(index) !== term) return false;
    this.commitTo(index);
    return true;
  }

  /** The last index known durable locally; nothing new is while an incoming snapshot is pending. */
  persistedIndex(): number {
    if (this.unstable.snapshot !== undefined) return this.unstable.snapshot.metadata.index - 1;
    return this.unstable.offset - 1;
  }

  /**
   * Entries in [lo, hi) limited to `maxBytes` (at least one), or undefined when `lo` is compacted away. The
   * result must not be modified (it may be Storage's own array).
   */
  slice(lo: number, hi: number, maxBytes: number): readonly Entry[] | undefined {
    if (lo >= hi) return [];
    if (lo < this.firstIndex()) return undefined;
    const lastIndex = this.lastIndex();
    if (hi > lastIndex + 1) {
      throw new RaftInvariantError(this.nodeId, `slice [${lo}, ${hi}) is past the last index ${lastIndex}`);
    }
    const unstable = this.unstable;
    const offset = unstable.offset;
    if (lo >= offset) {
      const start = lo - offset;
      const count = countWithinSize(unstable.entries, start, hi - offset, maxBytes);
      return unstable.entries.slice(start, start + count);
    }
    const stableHi = Math.min(hi, offset);
    let stable: Entry[];
    try {
      stable = this.storage.entries(lo, stableHi, maxBytes);
    } catch (error) {
      if (error instanceof CompactedError) return undefined;
      throw error;
    }
    if (stable.length < stableHi - lo || hi <= offset) return stable;
    // Copy before extending: a Storage may hand out an array it keeps (an entry cache).
    const result = stable.slice();
    let sizeBytes = 0;
    for (let i = 0; i < result.length; i++) sizeBytes += entrySizeBytes(result[i]!);
    for (let index = offset; index < hi; index++) {
      const entry = unstable.entries[index - offset]!;
      sizeBytes += entrySizeBytes(entry);
      if (sizeBytes > maxBytes) break;
      result.push(entry);
    }
    return result;
  }

  /** Entries from `lo` to the end of the log, limited to `maxBytes`; undefined when `lo` is compacted. */
  entriesFrom(lo: number, maxBytes: number): readonly Entry[] | undefined {
    const lastIndex = this.lastIndex();
    if (lo > lastIndex) return [];
    return this.slice(lo, lastIndex + 1, maxBytes);
  }

  /** The highest index that may be handed out for application: committed and durable locally. */
  private applicableIndex(): number {
    return Math.min(this.committed, this.persistedIndex());
  }

  hasCommittedEntriesToHandOut(): boolean {
    return this.unstable.snapshot === undefined && this.applying < this.applicableIndex();
  }

  /** The next committed, durable entries to apply, limited to `maxApplyingBytes` per Ready. */
  committedEntriesToHandOut(): readonly Entry[] {
    if (!this.hasCommittedEntriesToHandOut()) return [];
    const entries = this.slice(this.applying + 1, this.applicableIndex() + 1, this.maxApplyingBytes);
    if (entries === undefined) {
      throw new RaftInvariantError(
        this.nodeId,
        `committed entries after ${this.applying} were compacted unapplied`,
      );
    }
    return entries;
  }

  appliedTo(index: number): void {
    if (index > this.applying) {
      throw new RaftInvariantError(
        this.nodeId,
        `applied ${index} was never handed out (applying ${this.applying})`,
      );
    }
    if (index > this.applied) this.applied = index;
  }

  /** Replaces the log with an incoming snapshot; the snapshot's index is committed by definition. */
  restore(snapshot: Snapshot): void {
    this.committed = snapshot.metadata.index;
    this.unstable.restore(snapshot);
  }

  /** The snapshot to send to a follower that is too far behind (may throw while one is being built). */
  snapshot(): Snapshot {
    return this.unstable.snapshot ?? this.storage.snapshot();
  }

  /** Whether any committed entry after `applied` is a conf change (a node then must not campaign). */
  hasUnappliedConfChange(): boolean {
    let lo = this.applied + 1;
    const hi = this.committed + 1;
    // Bounded: every page makes progress by at least one entry.
    while (lo < hi) {
      const page = this.slice(lo, hi, this.maxApplyingBytes);
      if (page === undefined || page.length === 0) return false;
      for (let i = 0; i < page.length; i++) {
        if (page[i]!.type === EntryType.ConfChange) return true;
      }
      lo += page.length;
    }
    return false;
  }
}
