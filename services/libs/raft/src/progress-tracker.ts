import { Progress } from "./progress.ts";
import { quorumValue, tallyVotes, type VoteTally } from "./quorum.ts";
import { type ConfChange, ConfChangeType, type ConfState, type NodeId } from "./types.ts";

function insertSorted(ids: NodeId[], id: NodeId): NodeId[] {
  return [...ids, id].sort((a, b) => a - b);
}

function without(ids: readonly NodeId[], id: NodeId): NodeId[] {
  return ids.filter((other) => other !== id);
}

/**
 * The configuration (voters and learners, single-step changes only) and, on the leader, the progress of
 * every member. Decides quorums: the committed index, check-quorum activity, vote tallies and heartbeat
 * round confirmation all count voters only; learners receive the log but never count.
 */
export class ProgressTracker {
  private votersValue: NodeId[] = [];
  private learnersValue: NodeId[] = [];
  /** Voters then learners, each sorted: a deterministic visiting order. */
  private membersValue: NodeId[] = [];
  readonly progress = new Map<NodeId, Progress>();
  private readonly votes = new Map<NodeId, boolean>();
  /** Reused by the quorum computations so the hot path allocates nothing. */
  private readonly scratch: number[] = [];

  constructor(
    private readonly maxInflightMessages: number,
    private readonly maxInflightBytes: number,
  ) {}

  get voters(): readonly NodeId[] {
    return this.votersValue;
  }

  get learners(): readonly NodeId[] {
    return this.learnersValue;
  }

  get members(): readonly NodeId[] {
    return this.membersValue;
  }

  /** Replaces the configuration, giving every member a fresh progress. */
  restore(confState: ConfState, lastIndex: number): void {
    this.progress.clear();
    this.votersValue = [...new Set(confState.voters)].sort((a, b) => a - b);
    this.learnersValue = [...new Set(confState.learners)]
      .filter((id) => !this.votersValue.includes(id))
      .sort((a, b) => a - b);
    for (const id of this.votersValue) this.progress.set(id, this.newProgress(lastIndex, false));
    for (const id of this.learnersValue) this.progress.set(id, this.newProgress(lastIndex, true));
    this.updateMembers();
  }

  confState(): ConfState {
    return { voters: [...this.votersValue], learners: [...this.learnersValue] };
  }

  get(id: NodeId): Progress | undefined {
    return this.progress.get(id);
  }

  isVoter(id: NodeId): boolean {
    const progress = this.progress.get(id);
    return progress !== undefined && !progress.isLearner;
  }

  isSingleton(): boolean {
    return this.votersValue.length === 1;
  }

  /**
   * Applies one single-step change. Returns false when it does not apply (demoting a voter, removing the
   * last voter); the leader refuses such proposals, so followers reach the same decision deterministically.
   */
  applyConfChange(change: ConfChange, lastIndex: number): boolean {
    const id = change.nodeId;
    const existing = this.progress.get(id);
    switch (change.type) {
      case ConfChangeType.AddNode:
        if (existing !== undefined && !existing.isLearner) return true;
        if (existing !== undefined) {
          existing.isLearner = false;
          this.learnersValue = without(this.learnersValue, id);
        } else {
          this.progress.set(id, this.newProgress(lastIndex, false, true));
        }
        this.votersValue = insertSorted(this.votersValue, id);
        break;
      case ConfChangeType.AddLearnerNode:
        if (existing !== undefined) return existing.isLearner;
        this.progress.set(id, this.newProgress(lastIndex, true, true));
        this.learnersValue = insertSorted(this.learnersValue, id);
        break;
      case ConfChangeType.RemoveNode:
        if (existing === undefined) return true;
        if (!existing.isLearner && this.votersValue.length === 1) return false;
        this.progress.delete(id);
        this.votersValue = without(this.votersValue, id);
        this.learnersValue = without(this.learnersValue, id);
        break;
    }
    this.updateMembers();
    return true;
  }

  /** Why a change cannot be applied, or undefined when it can. */
  validateConfChange(change: ConfChange): string | undefined {
    const existing = this.progress.get(change.nodeId);
    if (change.type === ConfChangeType.AddLearnerNode && existing !== undefined && !existing.isLearner) {
      return `node ${change.nodeId} is a voter; demotion to learner is not supported`;
    }
    if (
      change.type === ConfChangeType.RemoveNode &&
      existing !== undefined &&
      !existing.isLearner &&
      this.votersValue.length === 1
    ) {
      return `node ${change.nodeId} is the last voter`;
    }
    return undefined;
  }

  /** Fresh progress for every member (on a role change): nothing is known about followers yet. */
  resetProgress(lastIndex: number, selfId: NodeId, selfMatch: number): void {
    for (const [id, old] of this.progress) {
      const fresh = this.newProgress(lastIndex, old.isLearner);
      if (id === selfId) fresh.match = selfMatch;
      this.progress.set(id, fresh);
    }
  }

  /** The highest index replicated on a quorum of voters. */
  committedIndex(): number {
    const values = this.scratch;
    values.length = 0;
    for (const id of this.votersValue) values.push(this.progress.get(id)!.match);
    return quorumValue(values);
  }

  /** Whether a quorum of voters (counting `selfId` as active) was heard from recently. */
  quorumActive(selfId: NodeId): boolean {
    const values = this.scratch;
    values.length = 0;
    for (const id of this.votersValue) {
      values.push(id === selfId || this.progress.get(id)!.recentActive ? 1 : 0);
    }
    return quorumValue(values) === 1;
  }

  /** The latest heartbeat round acknowledged by a quorum of voters (`selfId` acknowledges `currentRound`). */
  quorumAckedHeartbeatRound(selfId: NodeId, currentRound: number): number {
    const values = this.scratch;
    values.length = 0;
    for (const id of this.votersValue) {
      values.push(id === selfId ? currentRound : this.progress.get(id)!.ackedHeartbeatRound);
    }
    return quorumValue(values);
  }

  resetVotes(): void {
    this.votes.clear();
  }

  /** Records a vote; a voter's first answer in an election counts, repeats are ignored. */
  recordVote(id: NodeId, granted: boolean): void {
    if (!this.votes.has(id)) this.votes.set(id, granted);
  }

  tallyVotes(): VoteTally {
    return tallyVotes(this.votersValue, this.votes);
  }

  private newProgress(lastIndex: number, isLearner: boolean, recentActive = false): Progress {
    const progress = new Progress(lastIndex + 1, this.maxInflightMessages, this.maxInflightBytes, isLearner);
    // A member added while leading counts as active so check-quorum does not fire before it answers.
    progress.recentActive = recentActive;
    return progress;
  }

  private updateMembers(): void {
    this.membersValue = [...this.votersValue, ...this.learnersValue];
  }
}
