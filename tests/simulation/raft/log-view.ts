/**
 * The checker's mirror of one node's raft log: for each index after the node's snapshot, the entry's
 * term and chained hash (see entry-hash.ts). It follows the entries handed out in Readys, persisted or
 * not, because those are the node's log as the raft core sees it; after a crash it is rebuilt from what
 * the node's disk kept.
 */

export class LogView {
  private baseIndexValue = 0;
  private baseTerm = 0;
  private baseHash = 0;
  private readonly terms: number[] = [];
  private readonly hashes: number[] = [];

  /** Index covered by the latest snapshot (0 for a log that never had one). */
  get baseIndex(): number {
    return this.baseIndexValue;
  }

  get lastIndex(): number {
    return this.baseIndexValue + this.terms.length;
  }

  /** Forgets the entries and starts the log after a snapshot at (index, term) whose state hashes to `hash`. */
  reset(index: number, term: number, hash: number): void {
    this.baseIndexValue = index;
    this.baseTerm = term;
    this.baseHash = hash;
    this.terms.length = 0;
    this.hashes.length = 0;
  }

  /** Undefined outside [baseIndex, lastIndex]. */
  termAt(index: number): number | undefined {
    if (index === this.baseIndexValue) return this.baseTerm;
    return this.terms[index - this.baseIndexValue - 1];
  }

  /** Undefined outside [baseIndex, lastIndex]. */
  hashAt(index: number): number | undefined {
    if (index === this.baseIndexValue) return this.baseHash;
    return this.hashes[index - this.baseIndexValue - 1];
  }

  /** Drops every entry after `index` (which must be within [baseIndex, lastIndex]). */
  truncateAfter(index: number): void {
    const keep = index - this.baseIndexValue;
    if (keep < this.terms.length) {
      this.terms.length = keep;
      this.hashes.length = keep;
    }
  }

  /** Appends the entry at lastIndex + 1. */
  push(term: number, hash: number): void {
    this.terms.push(term);
    this.hashes.push(hash);
  }
}
