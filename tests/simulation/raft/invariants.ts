/**
 * Safety invariants of Raft, checked incrementally as the simulation runs (each check costs O(1) per
 * event or per entry, so every step of every seed is checked):
 *
 * - election safety: at most one leader per term (every (term → leader) ever observed is kept);
 * - one vote per term: a node never grants its vote to two candidates in the same term (seen on the wire);
 * - log matching: two logs holding an entry with the same index and term agree on every entry up to it
 *   (chained hashes: the first hash seen for an (index, term) must be the hash every later holder has);
 * - log shape: appends leave no gap, terms never decrease along a log, and a node never truncates
 *   entries at or below its own commit index;
 * - committed entries never change: the committed prefix is kept as chained hashes by index; a node's
 *   commit index, every entry it applies and every snapshot it installs must match it;
 * - leader completeness: a new leader of term T holds every entry known committed in a term below T;
 * - state machine safety: every node applies entries in order, without gaps, equal to the committed ones;
 * - durability of promises: a node that granted a vote or acknowledged entries still holds that vote and
 *   those entries after a crash (unless a later leader legitimately overwrote the entries);
 * - linearizable reads: a ReadIndex or lease read answered with index r was requested after every entry
 *   committed so far, so r must be at least the highest commit index known anywhere at request time.
 */
import type { Entry, NodeId } from "#raft";
import { extendHash } from "./entry-hash.ts";
import { LogView } from "./log-view.ts";

export type InvariantName =
  | "election-safety"
  | "one-vote-per-term"
  | "log-matching"
  | "log-shape"
  | "committed-truncated"
  | "committed-changed"
  | "leader-completeness"
  | "state-machine-safety"
  | "durability"
  | "linearizable-read"
  | "liveness";

export class InvariantViolation extends Error {
  constructor(
    readonly invariant: InvariantName,
    readonly detail: string,
  ) {
    super(`${invariant}: ${detail}`);
    this.name = "InvariantViolation";
  }
}

// Log-matching keys pack (index, term) into one number; terms stay far below this in a simulation.
const TERM_KEY_SPACE = 2 ** 20;
// Votes are keyed by (term, voter); node ids stay far below this.
const NODE_KEY_SPACE = 2 ** 16;

/** What a node promised on the wire and must therefore have made durable first. */
interface Promises {
  /** Highest term in which the node granted a vote, and to whom. */
  voteTerm: number;
  votedFor: NodeId;
  /** Highest index acknowledged to a leader, and the chained hash the node's log had there. */
  acknowledgedIndex: number;
  acknowledgedHash: number;
}

interface PendingRead {
  readonly node: NodeId;
  /** Highest commit index known anywhere when the read was requested. */
  readonly requiredIndex: number;
}

export interface CheckerOptions {
  /**
   * Check what nodes promise on the wire (one vote per term, durability of votes and acknowledgements)
   * [true]. Off, only the end-to-end properties remain — the bug-injection test uses that to show they
   * catch each bug on their own too.
   */
  readonly checkPromises?: boolean;
}

export class InvariantChecker {
  private readonly checkPromises: boolean;
  private readonly leaderOfTerm = new Map<number, NodeId>();
  private readonly candidateVotedFor = new Map<number, NodeId>();
  private readonly firstHashOfEntry = new Map<number, number>();
  /** Chained hash of the committed log at each index, filled in as commits and applies reveal it. */
  private readonly committedHashes: number[] = [];
  private maxCommitted = 0;
  /** Highest commit index observed on any node while at each term (for leader completeness). */
  private readonly maxCommitAtTerm = new Map<number, number>();
  private readonly views = new Map<NodeId, LogView>();
  private readonly promises = new Map<NodeId, Promises>();
  private readonly pendingReads = new Map<number, PendingRead>();
  private readsChecked = 0;

  constructor(options: CheckerOptions = {}) {
    this.checkPromises = options.checkPromises ?? true;
  }

  get maxCommittedIndex(): number {
    return this.maxCommitted;
  }

  get termsWithLeader(): number {
    return this.leaderOfTerm.size;
  }

  get checkedReadCount(): number {
    return this.readsChecked;
  }

  /**
   * The log of `node` restarts from a snapshot at (index, term) whose state hashes to `hash`: one it
   * installed, or the one on its disk when it restarts (its durable entries follow with entriesAppended).
   */
  resetLog(node: NodeId, index: number, term: number, hash: number, cause: "installed" | "restarted"): void {
    let view = this.views.get(node);
    if (view === undefined) {
      view = new LogView();
      this.views.set(node, view);
    }
    this.checkCommittedHash(node, index, hash, "snapshot");
    if (index > 0) this.checkMatching(node, index, term, hash);
    view.reset(index, term, hash);
    if (cause === "installed") this.forgetOverwrittenPromise(node, index, view);
  }

  forgetNode(node: NodeId): void {
    this.views.delete(node);
    this.promises.delete(node);
  }

  /** `entries` were handed to `node` for appending; `nodeCommit` is its commit index before them. */
  entriesAppended(node: NodeId, entries: readonly Entry[], nodeCommit: number): void {
    if (entries.length === 0) return;
    const view = this.viewOf(node);
    const first = entries[0]!.index;
    if (first <= view.baseIndex || first > view.lastIndex + 1) {
      this.fail(
        "log-shape",
        `node ${node} appends at ${first} to a log holding (${view.baseIndex}, ${view.lastIndex}]`,
      );
    }
    if (first <= view.lastIndex) {
      if (first <= nodeCommit) {
        this.fail(
          "committed-truncated",
          `node ${node} overwrites from index ${first} but has commit ${nodeCommit}`,
        );
      }
      view.truncateAfter(first - 1);
      this.forgetOverwrittenPromise(node, first - 1, view);
    }
    let hash = view.hashAt(first - 1)!;
    let previousTerm = view.termAt(first - 1)!;
    let expectedIndex = first;
    for (const entry of entries) {
      if (entry.index !== expectedIndex || entry.term < previousTerm) {
        this.fail(
          "log-shape",
          `node ${node} appends (${entry.index}, t${entry.term}) after (${expectedIndex - 1}, t${previousTerm})`,
        );
      }
      hash = extendHash(hash, entry);
      this.checkMatching(node, entry.index, entry.term, hash);
      view.push(entry.term, hash);
      previousTerm = entry.term;
      expectedIndex++;
    }
  }

  /** `node`, at `term`, reports commit index `commit` (from its hard state). */
  commitAdvanced(node: NodeId, term: number, commit: number): void {
    const hash = this.viewOf(node).hashAt(commit);
    if (hash === undefined) {
      const view = this.viewOf(node);
      this.fail(
        "log-shape",
        `node ${node} commits ${commit} outside its log (${view.baseIndex}, ${view.lastIndex}]`,
      );
    }
    this.checkCommittedHash(node, commit, hash, "commit index");
    if (commit > this.maxCommitted) this.maxCommitted = commit;
    if ((this.maxCommitAtTerm.get(term) ?? 0) < commit) this.maxCommitAtTerm.set(term, commit);
  }

  becameLeader(node: NodeId, term: number): void {
    const previous = this.leaderOfTerm.get(term);
    if (previous !== undefined && previous !== node) {
      this.fail("election-safety", `nodes ${previous} and ${node} were both leader of term ${term}`);
    }
    this.leaderOfTerm.set(term, node);
    let mustHold = 0;
    for (const [commitTerm, commit] of this.maxCommitAtTerm) {
      if (commitTerm < term && commit > mustHold) mustHold = commit;
    }
    if (mustHold === 0) return;
    const view = this.viewOf(node);
    // Below the snapshot the entries are covered by the snapshot, which was itself checked.
    if (mustHold < view.baseIndex) return;
    if (view.hashAt(mustHold) !== this.committedHashes[mustHold]) {
      this.fail(
        "leader-completeness",
        `node ${node} became leader of term ${term} without the entry committed at ${mustHold} (log ends at ${view.lastIndex})`,
      );
    }
  }

  voteGranted(voter: NodeId, term: number, candidate: NodeId): void {
    if (!this.checkPromises) return;
    const key = term * NODE_KEY_SPACE + voter;
    const previous = this.candidateVotedFor.get(key);
    if (previous !== undefined && previous !== candidate) {
      this.fail(
        "one-vote-per-term",
        `node ${voter} voted for ${previous} and for ${candidate} in term ${term}`,
      );
    }
    this.candidateVotedFor.set(key, candidate);
    const promises = this.promisesOf(voter);
    if (term >= promises.voteTerm) {
      promises.voteTerm = term;
      promises.votedFor = candidate;
    }
  }

  /**
   * `node`, now at `nodeTerm`, told a leader of `messageTerm` that its log matches the leader's up to
   * `index`. An answer from an older term is stale: a leader of a newer term may already have overwritten
   * those entries, legitimately, while the answer waited for its fsync.
   */
  appendAcknowledged(node: NodeId, index: number, messageTerm: number, nodeTerm: number): void {
    if (!this.checkPromises || messageTerm < nodeTerm) return;
    const view = this.viewOf(node);
    const hash = view.hashAt(index);
    if (hash === undefined && index > view.baseIndex) {
      this.fail(
        "durability",
        `node ${node} acknowledged index ${index} but its log ends at ${view.lastIndex}`,
      );
    }
    const promises = this.promisesOf(node);
    if (index > promises.acknowledgedIndex && hash !== undefined) {
      promises.acknowledgedIndex = index;
      promises.acknowledgedHash = hash;
    }
  }

  /** `node` restarted with this durable hard state (its log was rebuilt with resetLog and entriesAppended). */
  restarted(node: NodeId, term: number, vote: NodeId): void {
    const promises = this.promises.get(node);
    if (promises === undefined) return;
    if (term < promises.voteTerm || (term === promises.voteTerm && vote !== promises.votedFor)) {
      this.fail(
        "durability",
        `node ${node} voted for ${promises.votedFor} in term ${promises.voteTerm} but restarted with term ${term} vote ${vote}`,
      );
    }
    const view = this.viewOf(node);
    const index = promises.acknowledgedIndex;
    if (index > view.baseIndex && view.hashAt(index) !== promises.acknowledgedHash) {
      this.fail(
        "durability",
        `node ${node} acknowledged entries up to ${index} but restarted with a log ending at ${view.lastIndex} ` +
          `${view.hashAt(index) === undefined ? "" : "(holding a different entry there)"}`,
      );
    }
  }

  /** `node` applied the entry at `index`, after which its state machine hashes to `hash`. */
  applied(node: NodeId, index: number, hash: number): void {
    this.checkCommittedHash(node, index, hash, "applied entry");
  }

  readRequested(readId: number, node: NodeId): void {
    this.pendingReads.set(readId, { node, requiredIndex: this.maxCommitted });
  }

  readAnswered(readId: number, node: NodeId, index: number): void {
    const read = this.pendingReads.get(readId);
    if (read === undefined) return;
    this.readsChecked++;
    if (index < read.requiredIndex) {
      this.fail(
        "linearizable-read",
        `read ${readId} requested on node ${read.node} was answered on node ${node} with index ${index}, ` +
          `but index ${read.requiredIndex} was already committed when it was requested`,
      );
    }
  }

  private promisesOf(node: NodeId): Promises {
    let promises = this.promises.get(node);
    if (promises === undefined) {
      promises = { voteTerm: 0, votedFor: 0, acknowledgedIndex: 0, acknowledgedHash: 0 };
      this.promises.set(node, promises);
    }
    return promises;
  }

  /** A leader overwrote the log after `index`: acknowledgements past it no longer bind the node. */
  private forgetOverwrittenPromise(node: NodeId, index: number, view: LogView): void {
    const promises = this.promises.get(node);
    if (promises === undefined || promises.acknowledgedIndex <= index) return;
    promises.acknowledgedIndex = index;
    promises.acknowledgedHash = view.hashAt(index) ?? 0;
  }

  private viewOf(node: NodeId): LogView {
    const view = this.views.get(node);
    if (view === undefined)
      throw new Error(`invariant checker: node ${node} has no log (resetLog was not called)`);
    return view;
  }

  private checkMatching(node: NodeId, index: number, term: number, hash: number): void {
    if (term >= TERM_KEY_SPACE) throw new RangeError(`term ${term} is too large for the checker's keys`);
    const key = index * TERM_KEY_SPACE + term;
    const first = this.firstHashOfEntry.get(key);
    if (first === undefined) this.firstHashOfEntry.set(key, hash);
    else if (first !== hash) {
      this.fail(
        "log-matching",
        `node ${node} holds entry (${index}, t${term}) with a different log prefix or data than another node`,
      );
    }
  }

  private checkCommittedHash(node: NodeId, index: number, hash: number, what: string): void {
    const committed = this.committedHashes[index];
    if (committed === undefined) this.committedHashes[index] = hash;
    else if (committed !== hash) {
      const invariant = what === "applied entry" ? "state-machine-safety" : "committed-changed";
      this.fail(invariant, `node ${node}'s ${what} at index ${index} differs from the committed log`);
    }
  }

  private fail(invariant: InvariantName, detail: string): never {
    throw new InvariantViolation(invariant, detail);
  }
}
