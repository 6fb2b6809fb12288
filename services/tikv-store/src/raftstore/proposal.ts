/**
 * Proposals waiting for their entries to apply. A proposal learns its (index, term) when the leader
 * appends it; applying the entry at that index with that term answers it. Entries apply in index order and
 * a leader's proposals enter the log in the order they were proposed, so the queue is FIFO: when the
 * entry at (index, term) applies, every earlier proposal that did not match was overwritten by another
 * leader's log and is answered StaleCommand.
 */
import type { raft_cmdpb } from "#proto";

export type CommandOutcome =
  | { readonly ok: true; readonly response: raft_cmdpb.RaftCmdResponse }
  | { readonly ok: false; readonly error: Error };

export class ProposalInvariantError extends Error {
  override readonly name = "ProposalInvariantError";
}

export class Proposal {
  /** Set when the leader appended the entry; 0 before. */
  index = 0;
  term = 0;
  private answered = false;

  constructor(
    readonly id: bigint,
    private readonly callback: (outcome: CommandOutcome) => void,
  ) {}

  get isAnswered(): boolean {
    return this.answered;
  }

  /** Exactly once: a second answer means two code paths think they own the proposal. */
  answer(outcome: CommandOutcome): void {
    if (this.answered) throw new ProposalInvariantError(`proposal ${this.id} answered twice`);
    this.answered = true;
    this.callback(outcome);
  }

  fail(error: Error): void {
    this.answer({ ok: false, error });
  }
}

export interface ProposalLookup {
  /** The proposal whose entry is the one applying, if this peer proposed it. */
  readonly match: Proposal | undefined;
  /** Proposals whose entries can no longer apply. */
  readonly stale: readonly Proposal[];
}

const NO_PROPOSALS: readonly Proposal[] = Object.freeze([]);

export class ProposalQueue {
  /** Slots before `head` were taken and cleared, so the queue holds no reference to answered proposals. */
  private items: Array<Proposal | undefined> = [];
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  push(proposal: Proposal): void {
    const last = this.items[this.items.length - 1];
    if (proposal.index === 0) throw new ProposalInvariantError(`proposal ${proposal.id} has no index`);
    if (
      last !== undefined &&
      this.length > 0 &&
      (proposal.index <= last.index || proposal.term < last.term)
    ) {
      throw new ProposalInvariantError(
        `proposal ${proposal.id} at (${proposal.index}, ${proposal.term}) after (${last.index}, ${last.term})`,
      );
    }
    this.items.push(proposal);
  }

  /** Takes the proposals the entry at (index, term) decides: its own and every older one. */
  take(index: number, term: number): ProposalLookup {
    let stale: Proposal[] | undefined;
    while (this.head < this.items.length) {
      const front = this.items[this.head]!;
      const overwritten = front.term < term || (front.term === term && front.index < index);
      if (front.term === term && front.index === index) {
        this.advanceHead();
        return { match: front, stale: stale ?? NO_PROPOSALS };
      }
      if (!overwritten) break;
      if (stale === undefined) stale = [];
      stale.push(front);
      this.advanceHead();
    }
    return { match: undefined, stale: stale ?? NO_PROPOSALS };
  }

  /** Empties the queue (the peer lost leadership or is going away). */
  drain(): Proposal[] {
    const remaining = this.items.slice(this.head) as Proposal[];
    this.items = [];
    this.head = 0;
    return remaining;
  }

  private advanceHead(): void {
    this.items[this.head] = undefined;
    this.head++;
    // Compact once the consumed prefix dominates, keeping pushes and takes amortised O(1).
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
  }
}
