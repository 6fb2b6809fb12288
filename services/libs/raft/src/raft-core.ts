import { ConfChangeDecodeError, decodeConfChange } from "./conf-change.ts";
import { type RaftConfig, type RaftLogger, type ResolvedRaftConfig, resolveRaftConfig } from "./config.ts";
import { messageTypeName } from "./describe.ts";
import { InvalidConfChangeError, ProposalDroppedError, RaftInvariantError } from "./errors.ts";
import { HeartbeatRounds } from "./heartbeat-rounds.ts";
import { type Progress, ProgressState } from "./progress.ts";
import { ProgressTracker } from "./progress-tracker.ts";
import { VoteResult } from "./quorum.ts";
import { RaftLog } from "./raft-log.ts";
import { ReadIndexQueue } from "./read-only.ts";
import type { ProgressStatus, Status } from "./status.ts";
import { SnapshotTemporarilyUnavailableError, type Storage } from "./storage.ts";
import {
  CAMPAIGN_TRANSFER_CONTEXT,
  type ConfChange,
  type ConfState,
  EMPTY_BYTES,
  type Entry,
  EntryType,
  type HardState,
  isEmptyHardState,
  isResponseMessage,
  type Message,
  MessageType,
  NO_ENTRIES,
  NONE,
  type NodeId,
  payloadSizeBytes,
  type ReadState,
  Role,
  type Snapshot,
  type SoftState,
} from "./types.ts";

enum CampaignKind {
  PreElection,
  Election,
  /** Started by MsgTimeoutNow: no pre-vote, and voters grant it even inside a leader's lease. */
  Transfer,
}

/** The fields of an outgoing message; the rest default (from = this node, term = current term). */
interface Outgoing {
  readonly type: MessageType;
  readonly to: NodeId;
  readonly from?: NodeId;
  readonly term?: number;
  readonly logTerm?: number;
  readonly index?: number;
  readonly entries?: readonly Entry[];
  readonly commit?: number;
  readonly snapshot?: Snapshot;
  readonly reject?: boolean;
  readonly rejectHint?: number;
  readonly context?: Uint8Array;
}

interface PendingReadRequest {
  readonly requester: NodeId;
  readonly context: Uint8Array;
}

type StepFunction = (message: Message) => void;

function sameBytes(a: Uint8Array | undefined, b: Uint8Array): boolean {
  if (a === undefined || a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}

function progressStateName(state: ProgressState): ProgressStatus["state"] {
  if (state === ProgressState.Probe) return "probe";
  if (state === ProgressState.Replicate) return "replicate";
  return "snapshot";
}

/**
 * The raft state machine (one node of one group). No I/O, no timers: it advances on `tick()` and `step()`,
 * and leaves its output (messages, read states, log changes) for RawNode to hand out in a Ready.
 *
 * Roles swap behaviour: becoming a role installs that role's step and tick functions.
 *
 * Durability rules: a non-leader's messages wait for persistence (`persistedMessages`) because they promise
 * state (a vote, appended entries) that must survive a crash; the leader's go out at once (raft thesis
 * 10.2.1) and its own log counts towards a quorum only once RawNode reports it durable.
 */
export class RaftCore {
  readonly id: NodeId;
  term = 0;
  vote: NodeId = NONE;
  leaderId: NodeId = NONE;
  role = Role.Follower;
  readonly raftLog: RaftLog;
  readonly tracker: ProgressTracker;
  leadTransferee: NodeId = NONE;
  /**
   * Index of the latest conf change this leader appended (conservatively the log end when it was elected).
   * A new conf change is refused until the application has applied past it: changes go one at a time.
   */
  pendingConfIndex = 0;
  readStates: ReadState[] = [];
  messages: Message[] = [];
  persistedMessages: Message[] = [];

  private readonly config: ResolvedRaftConfig;
  private readonly logger: RaftLogger | undefined;
  private readonly commitsPreviousTermByCounting: boolean;
  private readonly grantsSecondVoteInTerm: boolean;
  private readonly answersBeforePersist: boolean;
  private electionElapsed = 0;
  /**
   * Ticks left during which a restarted node refuses votes as if it had just heard from a leader. Before
   * the restart it may have been following a live leader whose lease counts on it; having forgotten that
   * leader, it would otherwise help elect a second one while the first still serves lease reads.
   */
  private restartQuietTicks = 0;
  private heartbeatElapsed = 0;
  private randomizedElectionTimeout = 0;
  /** Ticks since this node became leader: the clock of the leader lease. */
  private leaderTicks = 0;
  /** A MsgTimeoutNow went out this term: another node may win at any time, so the lease is void. */
  private timeoutNowSent = false;
  private uncommittedSizeBytes = 0;
  /** Proposals were appended since the last broadcast; they go out together in the next Ready. */
  private appendBroadcastPending = false;
  /** ReadIndex requests are waiting for the next heartbeat round, sent once for all of them. */
  private heartbeatBroadcastPending = false;
  private readonly readIndexQueue: ReadIndexQueue;
  private readonly heartbeatRounds = new HeartbeatRounds();
  /** ReadIndex requests held until this leader commits an entry of its own term. */
  private readsAwaitingCommit: PendingReadRequest[] = [];
  private stepByRole: StepFunction;
  private tickByRole: () => void;

  private readonly stepFollowerFunction: StepFunction = (message) => this.stepFollower(message);
  private readonly stepCandidateFunction: StepFunction = (message) => this.stepCandidate(message);
  private readonly stepLeaderFunction: StepFunction = (message) => this.stepLeader(message);
  private readonly tickElectionFunction = (): void => this.tickElection();
  private readonly tickHeartbeatFunction = (): void => this.tickHeartbeat();

  constructor(config: RaftConfig, storage: Storage) {
    this.config = resolveRaftConfig(config);
    this.id = this.config.id;
    this.logger = this.config.logger;
    this.commitsPreviousTermByCounting = this.config.injectedBugs.has("commitPreviousTermByCounting");
    this.grantsSecondVoteInTerm = this.config.injectedBugs.has("grantSecondVoteInTerm");
    this.answersBeforePersist = this.config.injectedBugs.has("answerBeforePersist");
    this.raftLog = new RaftLog(this.id, storage, this.config.maxCommittedBytesPerReady);
    this.tracker = new ProgressTracker(this.config.maxInflightMessages, this.config.maxInflightBytes);
    this.readIndexQueue = new ReadIndexQueue(this.config.maxPendingReadIndexRequests);
    this.stepByRole = this.stepFollowerFunction;
    this.tickByRole = this.tickElectionFunction;

    const { hardState, confState } = storage.initialState();
    this.tracker.restore(confState, this.raftLog.lastIndex());
    if (!isEmptyHardState(hardState)) this.loadHardState(hardState);
    if (this.config.appliedIndex > 0) this.restoreAppliedIndex(this.config.appliedIndex);
    this.becomeFollower(this.term, NONE);
    if (this.config.checkQuorum && this.term > 0) this.restartQuietTicks = this.config.electionTicks;
    this.log("new raft node", {
      term: this.term,
      commit: this.raftLog.committed,
      applied: this.raftLog.applied,
      lastIndex: this.raftLog.lastIndex(),
      lastTerm: this.raftLog.lastTerm(),
      voters: this.tracker.voters,
      learners: this.tracker.learners,
    });
  }

  private loadHardState(state: HardState): void {
    const lastIndex = this.raftLog.lastIndex();
    if (state.commit < this.raftLog.committed || state.commit > lastIndex) {
      throw new RaftInvariantError(
        this.id,
        `hard state commit ${state.commit} outside [${this.raftLog.committed}, ${lastIndex}]`,
      );
    }
    this.raftLog.committed = state.commit;
    this.term = state.term;
    this.vote = state.vote;
  }

  private restoreAppliedIndex(appliedIndex: number): void {
    const log = this.raftLog;
    const lastIndex = log.lastIndex();
    if (appliedIndex > lastIndex || appliedIndex < log.firstIndex() - 1) {
      throw new RaftInvariantError(
        this.id,
        `applied index ${appliedIndex} outside the log [${log.firstIndex() - 1}, ${lastIndex}]`,
      );
    }
    // The application may apply committed entries before the Ready carrying the new commit index is
    // durable; whatever it applied was committed, so the commit index is at least that.
    if (appliedIndex > log.committed) log.committed = appliedIndex;
    log.applying = appliedIndex;
    log.applied = appliedIndex;
  }

  // ---------------------------------------------------------------- output

  softState(): SoftState {
    return { leaderId: this.leaderId, role: this.role };
  }

  hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.raftLog.committed };
  }

  /** Sends the proposals and heartbeats that were batched since the last Ready. */
  flushBatchedBroadcasts(): void {
    if (this.role !== Role.Leader) return;
    if (this.appendBroadcastPending) {
      this.appendBroadcastPending = false;
      for (const id of this.tracker.members) {
        if (id !== this.id) this.sendAppends(id, false);
      }
    }
    if (this.heartbeatBroadcastPending) this.broadcastHeartbeat();
  }

  hasBatchedBroadcasts(): boolean {
    return this.role === Role.Leader && (this.appendBroadcastPending || this.heartbeatBroadcastPending);
  }

  private send(outgoing: Outgoing): void {
    const type = outgoing.type;
    const message: Message = {
      type,
      from: outgoing.from ?? this.id,
      to: outgoing.to,
      // Forwarded proposals and reads carry no term: they are requests to the leader, not raft RPCs.
      term: outgoing.term ?? (type === MessageType.Propose || type === MessageType.ReadIndex ? 0 : this.term),
      logTerm: outgoing.logTerm ?? 0,
      index: outgoing.index ?? 0,
      entries: outgoing.entries ?? NO_ENTRIES,
      commit: outgoing.commit ?? 0,
      snapshot: outgoing.snapshot,
      reject: outgoing.reject ?? false,
      rejectHint: outgoing.rejectHint ?? 0,
      context: outgoing.context,
    };
    if (this.role === Role.Leader || (this.answersBeforePersist && isResponseMessage(type))) {
      this.messages.push(message);
    } else {
      this.persistedMessages.push(message);
    }
  }

  private log(event: string, fields: Record<string, unknown>): void {
    if (this.logger !== undefined) this.logger(event, fields);
  }

  // ---------------------------------------------------------------- inputs

  tick(): void {
    if (this.restartQuietTicks > 0) this.restartQuietTicks--;
    this.tickByRole();
  }

  step(message: Message): void {
    if (message.term > this.term) {
      if (!this.stepHigherTerm(message)) return;
    } else if (message.term < this.term && message.term !== 0) {
      this.stepLowerTerm(message);
      return;
    }
    switch (message.type) {
      case MessageType.Hup:
        this.hup(this.config.preVote ? CampaignKind.PreElection : CampaignKind.Election);
        return;
      case MessageType.RequestVote:
      case MessageType.RequestPreVote:
        this.handleVoteRequest(message);
        return;
      default:
        this.stepByRole(message);
    }
  }

  /** Returns false when the message must be ignored. */
  private stepHigherTerm(message: Message): boolean {
    const type = message.type;
    if (type === MessageType.RequestVote || type === MessageType.RequestPreVote) {
      const forced = sameBytes(message.context, CAMPAIGN_TRANSFER_CONTEXT);
      if (!forced && this.inLeaderLease(type)) {
        // Hearing from a leader within the election timeout means it is alive: a candidate (often a node
        // rejoining after a partition) must not disrupt it, so neither the term nor the vote changes.
        this.log("ignored vote request within leader lease", {
          from: message.from,
          type: messageTypeName(type),
          term: message.term,
          remainingTicks: this.config.electionTicks - this.electionElapsed,
        });
        return false;
      }
    }
    // A pre-vote is for a term the candidate does not hold yet; a granted pre-vote response carries that
    // future term. Neither changes our term.
    if (type === MessageType.RequestPreVote) return true;
    if (type === MessageType.RequestPreVoteResponse && !message.reject) return true;
    this.log("received higher term", { from: message.from, type: messageTypeName(type), term: message.term });
    const fromLeader =
      type === MessageType.Append || type === MessageType.Heartbeat || type === MessageType.Snapshot;
    this.becomeFollower(message.term, fromLeader ? message.from : NONE);
    return true;
  }

  private inLeaderLease(type: MessageType): boolean {
    const heardFromLeaderRecently =
      (this.leaderId !== NONE && this.electionElapsed < this.config.electionTicks) ||
      this.restartQuietTicks > 0;
    if (!heardFromLeaderRecently) return false;
    return this.config.checkQuorum || (type === MessageType.RequestPreVote && this.config.preVote);
  }

  private stepLowerTerm(message: Message): void {
    const type = message.type;
    if (
      (this.config.checkQuorum || this.config.preVote) &&
      (type === MessageType.Heartbeat || type === MessageType.Append)
    ) {
      // A stale leader (for example one that was partitioned) learns the current term from this answer
      // and steps down; otherwise nothing would tell it, since we ignore its messages.
      this.send({ type: MessageType.AppendResponse, to: message.from });
    } else if (type === MessageType.RequestPreVote || type === MessageType.RequestVote) {
      // The rejection carries our term. A candidate that never hears it keeps campaigning in terms nobody
      // will vote in: with nodes that disagree on membership (one has applied a removal, another has not)
      // the group can livelock without pre-vote.
      this.log("rejected vote from lower term", {
        from: message.from,
        type: messageTypeName(type),
        term: message.term,
      });
      const responseType =
        type === MessageType.RequestPreVote
          ? MessageType.RequestPreVoteResponse
          : MessageType.RequestVoteResponse;
      this.send({ type: responseType, to: message.from, reject: true });
      if (type === MessageType.RequestVote) this.giveWayToCandidate(message);
    } else {
      this.log("ignored lower term message", {
        from: message.from,
        type: messageTypeName(type),
        term: message.term,
      });
    }
  }

  private handleVoteRequest(message: Message): void {
    const isPreVote = message.type === MessageType.RequestPreVote;
    const responseType = isPreVote ? MessageType.RequestPreVoteResponse : MessageType.RequestVoteResponse;
    const canVote =
      this.vote === message.from ||
      (this.vote === NONE && this.leaderId === NONE) ||
      (isPreVote && message.term > this.term) ||
      (this.grantsSecondVoteInTerm && !isPreVote);
    // Learners answer too: a learner promoted by an entry it has not seen yet may be needed for a quorum.
    if (canVote && this.raftLog.isUpToDate(message.index, message.logTerm)) {
      this.log("granted vote", { to: message.from, type: messageTypeName(message.type), term: message.term });
      // Answer with the request's term: a pre-candidate would ignore an answer with our older term.
      this.send({ type: responseType, to: message.from, term: message.term });
      if (!isPreVote) {
        this.electionElapsed = 0;
        this.vote = message.from;
      }
    } else {
      this.log("rejected vote", {
        to: message.from,
        type: messageTypeName(message.type),
        term: message.term,
        vote: this.vote,
        lastIndex: this.raftLog.lastIndex(),
        lastTerm: this.raftLog.lastTerm(),
      });
      this.send({ type: responseType, to: message.from, reject: true });
      if (!isPreVote) this.giveWayToCandidate(message);
    }
  }

  /**
   * We turn down a candidate whose log would have had our vote, because our vote in its term is taken
   * (usually by our own campaign) or its term is behind ours. It learns our term from the answer and
   * campaigns next in a term we have not voted in; restarting our election timer gives it an even chance
   * to do that before we start yet another term. Otherwise a node that cannot win, campaigning without
   * pre-vote from a stale configuration that may not even contain the candidate, starts every term first,
   * and the candidate, which needs its vote, is always a term behind on a timer that started later.
   */
  private giveWayToCandidate(message: Message): void {
    if (this.leaderId !== NONE || !this.raftLog.isUpToDate(message.index, message.logTerm)) return;
    this.log("restarted election timer: giving way to a candidate", { to: message.from, term: this.term });
    this.electionElapsed = 0;
  }

  // ---------------------------------------------------------------- roles

  private reset(term: number): void {
    if (this.term !== term) {
      this.term = term;
      this.vote = NONE;
    }
    this.leaderId = NONE;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.randomizedElectionTimeout =
      this.config.electionTicks + this.config.random.intBelow(this.config.electionTicks);
    this.leadTransferee = NONE;
    this.tracker.resetVotes();
    this.tracker.resetProgress(this.raftLog.lastIndex(), this.id, this.raftLog.persistedIndex());
    this.pendingConfIndex = 0;
    this.uncommittedSizeBytes = 0;
    this.readIndexQueue.clear();
    this.readsAwaitingCommit = [];
    this.heartbeatRounds.reset();
    this.leaderTicks = 0;
    this.timeoutNowSent = false;
    this.appendBroadcastPending = false;
    this.heartbeatBroadcastPending = false;
  }

  becomeFollower(term: number, leaderId: NodeId): void {
    this.stepByRole = this.stepFollowerFunction;
    this.reset(term);
    this.tickByRole = this.tickElectionFunction;
    this.leaderId = leaderId;
    this.role = Role.Follower;
    this.log("became follower", { term, leader: leaderId });
  }

  private becomeCandidate(): void {
    if (this.role === Role.Leader) throw new RaftInvariantError(this.id, "leader cannot become candidate");
    this.stepByRole = this.stepCandidateFunction;
    this.reset(this.term + 1);
    this.tickByRole = this.tickElectionFunction;
    this.vote = this.id;
    this.role = Role.Candidate;
    this.log("became candidate", { term: this.term });
  }

  private becomePreCandidate(): void {
    if (this.role === Role.Leader)
      throw new RaftInvariantError(this.id, "leader cannot become pre-candidate");
    // Neither the term nor the vote changes: a pre-candidate that cannot win leaves no trace.
    this.stepByRole = this.stepCandidateFunction;
    this.tracker.resetVotes();
    this.tickByRole = this.tickElectionFunction;
    this.leaderId = NONE;
    this.role = Role.PreCandidate;
    this.log("became pre-candidate", { term: this.term });
  }

  private becomeLeader(): void {
    if (this.role === Role.Follower) throw new RaftInvariantError(this.id, "follower cannot become leader");
    this.stepByRole = this.stepLeaderFunction;
    this.reset(this.term);
    this.tickByRole = this.tickHeartbeatFunction;
    this.leaderId = this.id;
    this.role = Role.Leader;
    const self = this.tracker.get(this.id);
    if (self === undefined) throw new RaftInvariantError(this.id, "won an election without being a member");
    self.becomeReplicate();
    self.recentActive = true;
    // Whether an unapplied conf change hides in the log is unknown without a scan; waiting until
    // everything up to the log end is applied is safe and cheap.
    this.pendingConfIndex = this.raftLog.lastIndex();
    // Entries of earlier terms commit only through an entry of this term, so append one at once.
    this.raftLog.appendOne({
      term: this.term,
      index: this.raftLog.lastIndex() + 1,
      type: EntryType.Normal,
      data: EMPTY_BYTES,
    });
    this.log("became leader", { term: this.term });
  }

  private promotable(): boolean {
    return this.tracker.isVoter(this.id) && this.raftLog.unstable.snapshot === undefined;
  }

  // ---------------------------------------------------------------- ticks

  private tickElection(): void {
    this.electionElapsed++;
    if (this.promotable() && this.electionElapsed >= this.randomizedElectionTimeout) {
      this.electionElapsed = 0;
      this.hup(this.config.preVote ? CampaignKind.PreElection : CampaignKind.Election);
    }
  }

  private tickHeartbeat(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    this.leaderTicks++;
    if (this.electionElapsed >= this.config.electionTicks) {
      this.electionElapsed = 0;
      if (this.config.checkQuorum) {
        this.checkQuorum();
        if (this.role !== Role.Leader) return;
      }
      if (this.leadTransferee !== NONE) {
        this.log("leader transfer timed out", { to: this.leadTransferee });
        this.leadTransferee = NONE;
      }
    }
    if (this.heartbeatElapsed >= this.config.heartbeatTicks) {
      this.heartbeatElapsed = 0;
      this.broadcastHeartbeat();
    }
  }

  private checkQuorum(): void {
    if (!this.tracker.quorumActive(this.id)) {
      this.log("stepped down: no quorum heard from within the election timeout", { term: this.term });
      this.becomeFollower(this.term, NONE);
      return;
    }
    for (const id of this.tracker.members) {
      if (id !== this.id) this.tracker.get(id)!.recentActive = false;
    }
  }

  // ---------------------------------------------------------------- elections

  private hup(kind: CampaignKind): void {
    if (this.role === Role.Leader) {
      this.log("ignored campaign: already leader", { term: this.term });
      return;
    }
    if (!this.promotable()) {
      this.log("ignored campaign: not promotable", { term: this.term });
      return;
    }
    if (this.raftLog.hasUnappliedConfChange()) {
      this.log("ignored campaign: committed conf change not yet applied", { term: this.term });
      return;
    }
    this.log("starting election", { term: this.term });
    this.campaign(kind);
  }

  private campaign(kind: CampaignKind): void {
    let voteType: MessageType;
    let term: number;
    if (kind === CampaignKind.PreElection) {
      this.becomePreCandidate();
      voteType = MessageType.RequestPreVote;
      term = this.term + 1;
    } else {
      this.becomeCandidate();
      voteType = MessageType.RequestVote;
      term = this.term;
    }
    const lastIndex = this.raftLog.lastIndex();
    const lastTerm = this.raftLog.lastTerm();
    const context = kind === CampaignKind.Transfer ? CAMPAIGN_TRANSFER_CONTEXT : undefined;
    // A real vote goes to learners too, though their answers do not count: our configuration may be stale,
    // and a node we know as a learner may be a voter that needs our vote. Hearing our term restarts its
    // election timer along with ours, so it may well campaign first in the next term; otherwise it learns
    // our terms only when we turn its campaigns down, a term behind (seed 474568997: no leader for 20 s;
    // giveWayToCandidate covers the nodes we do not know at all). A pre-vote changes no term, so only the
    // voters who decide it need to hear it.
    const targets = kind === CampaignKind.PreElection ? this.tracker.voters : this.tracker.members;
    for (const target of targets) {
      if (target === this.id) continue;
      this.send({ type: voteType, to: target, term, index: lastIndex, logTerm: lastTerm, context });
    }
    // A pre-vote changes no state, so it counts at once. A real vote for ourselves counts only once it is
    // durable (onSelfVotePersisted): counting it earlier could let a single-voter group lead a term its
    // disk does not remember.
    if (kind === CampaignKind.PreElection) this.receiveVote(this.id, true);
  }

  /** RawNode reports that the hard state holding our vote for ourselves in `term` is durable. */
  onSelfVotePersisted(term: number): void {
    if (this.role === Role.Candidate && this.term === term && this.vote === this.id) {
      this.receiveVote(this.id, true);
    }
  }

  private receiveVote(from: NodeId, granted: boolean): void {
    this.tracker.recordVote(from, granted);
    const tally = this.tracker.tallyVotes();
    const kind = this.role === Role.PreCandidate ? "pre-vote" : "vote";
    this.log(granted ? `received ${kind}` : `received ${kind} rejection`, {
      from,
      term: this.term,
      granted: tally.granted,
      rejected: tally.rejected,
    });
    if (tally.result === VoteResult.Won) {
      if (this.role === Role.PreCandidate) {
        this.campaign(CampaignKind.Election);
      } else {
        this.becomeLeader();
        this.broadcastAppend();
      }
    } else if (tally.result === VoteResult.Lost) {
      // A pre-vote rejection may carry a higher term; becoming follower at our own term is still right.
      this.becomeFollower(this.term, NONE);
    }
  }

  // ---------------------------------------------------------------- follower and candidate

  private stepFollower(message: Message): void {
    switch (message.type) {
      case MessageType.Propose:
        if (this.leaderId === NONE) {
          this.log("dropped forwarded proposal: no leader", { term: this.term });
          return;
        }
        this.send({
          type: MessageType.Propose,
          to: this.leaderId,
          from: message.from,
          entries: message.entries,
        });
        return;
      case MessageType.Append:
        this.electionElapsed = 0;
        this.leaderId = message.from;
        this.handleAppendEntries(message);
        return;
      case MessageType.Heartbeat:
        this.electionElapsed = 0;
        this.leaderId = message.from;
        this.handleHeartbeat(message);
        return;
      case MessageType.Snapshot:
        this.electionElapsed = 0;
        this.leaderId = message.from;
        this.handleSnapshot(message);
        return;
      case MessageType.TransferLeader:
        if (this.leaderId === NONE) {
          this.log("dropped leader transfer: no leader", { term: this.term });
          return;
        }
        this.send({ type: MessageType.TransferLeader, to: this.leaderId, from: message.from });
        return;
      case MessageType.TimeoutNow:
        this.log("received timeout now: campaigning", { from: message.from, term: this.term });
        this.hup(CampaignKind.Transfer);
        return;
      case MessageType.ReadIndex:
        if (this.leaderId === NONE) {
          this.log("dropped read index: no leader", { term: this.term });
          return;
        }
        this.send({
          type: MessageType.ReadIndex,
          to: this.leaderId,
          from: message.from === NONE ? this.id : message.from,
          context: message.context,
        });
        return;
      case MessageType.ReadIndexResponse:
        this.readStates.push({ index: message.index, requestContext: message.context ?? EMPTY_BYTES });
        return;
      default:
        return;
    }
  }

  private stepCandidate(message: Message): void {
    const ownResponse =
      this.role === Role.PreCandidate ? MessageType.RequestPreVoteResponse : MessageType.RequestVoteResponse;
    switch (message.type) {
      case MessageType.Append:
        this.becomeFollower(message.term, message.from);
        this.handleAppendEntries(message);
        return;
      case MessageType.Heartbeat:
        this.becomeFollower(message.term, message.from);
        this.handleHeartbeat(message);
        return;
      case MessageType.Snapshot:
        this.becomeFollower(message.term, message.from);
        this.handleSnapshot(message);
        return;
      case ownResponse:
        this.receiveVote(message.from, !message.reject);
        return;
      case MessageType.Propose:
      case MessageType.ReadIndex:
      case MessageType.TransferLeader:
      case MessageType.TimeoutNow:
        this.log("ignored message: no leader", { type: messageTypeName(message.type), term: this.term });
        return;
      default:
        return;
    }
  }

  private handleAppendEntries(message: Message): void {
    const log = this.raftLog;
    if (message.index < log.committed) {
      this.send({ type: MessageType.AppendResponse, to: message.from, index: log.committed });
      return;
    }
    const lastNewIndex = log.maybeAppend(message.index, message.logTerm, message.commit, message.entries);
    if (lastNewIndex >= 0) {
      this.send({ type: MessageType.AppendResponse, to: message.from, index: lastNewIndex });
      return;
    }
    // Hint the largest index that can still match: at most the probe index and our last index, and with a
    // term no higher than the probe's (our entries above it belong to terms the leader never had there).
    const hintIndex = log.findConflictByTerm(Math.min(message.index, log.lastIndex()), message.logTerm);
    this.send({
      type: MessageType.AppendResponse,
      to: message.from,
      index: message.index,
      reject: true,
      rejectHint: hintIndex,
      logTerm: log.termOrZero(hintIndex),
    });
  }

  private handleHeartbeat(message: Message): void {
    this.raftLog.commitTo(message.commit);
    this.send({ type: MessageType.HeartbeatResponse, to: message.from, index: message.index });
  }

  private handleSnapshot(message: Message): void {
    const snapshot = message.snapshot;
    if (snapshot === undefined) {
      this.log("ignored snapshot message without a snapshot", { from: message.from });
      return;
    }
    const { index, term } = snapshot.metadata;
    if (this.restore(snapshot)) {
      this.log("restored snapshot", { index, term });
      this.send({ type: MessageType.AppendResponse, to: message.from, index: this.raftLog.lastIndex() });
    } else {
      this.log("ignored snapshot", { index, term, commit: this.raftLog.committed });
      this.send({ type: MessageType.AppendResponse, to: message.from, index: this.raftLog.committed });
    }
  }

  private restore(snapshot: Snapshot): boolean {
    const { index, term, confState } = snapshot.metadata;
    if (index <= this.raftLog.committed) return false;
    if (this.role !== Role.Follower) {
      // Only followers receive snapshots; anything else means confusion about the term, so step aside.
      this.becomeFollower(this.term + 1, NONE);
      return false;
    }
    if (!confState.voters.includes(this.id) && !confState.learners.includes(this.id)) {
      this.log("ignored snapshot: not in its configuration", { index });
      return false;
    }
    if (this.raftLog.matchTerm(index, term)) {
      // We hold the snapshot's last entry already: just learn that it is committed.
      this.raftLog.commitTo(index);
      return false;
    }
    this.raftLog.restore(snapshot);
    this.tracker.restore(confState, this.raftLog.lastIndex());
    return true;
  }

  // ---------------------------------------------------------------- leader

  private stepLeader(message: Message): void {
    switch (message.type) {
      case MessageType.Beat:
        this.broadcastHeartbeat();
        return;
      case MessageType.CheckQuorum:
        this.checkQuorum();
        return;
      case MessageType.Propose:
        this.appendForwardedProposals(message);
        return;
      case MessageType.ReadIndex:
        this.handleReadIndex(message.from === NONE ? this.id : message.from, message.context ?? EMPTY_BYTES);
        return;
      default:
        break;
    }
    const progress = this.tracker.get(message.from);
    if (progress === undefined) {
      if (message.type === MessageType.TransferLeader) {
        this.log("ignored leader transfer: not a member", { to: message.from });
      }
      return;
    }
    switch (message.type) {
      case MessageType.AppendResponse:
        this.handleAppendResponse(message, progress);
        return;
      case MessageType.HeartbeatResponse:
        this.handleHeartbeatResponse(message, progress);
        return;
      case MessageType.SnapStatus:
        this.handleSnapshotStatus(message, progress);
        return;
      case MessageType.Unreachable:
        // An append was probably lost: stop streaming and probe until the follower answers again.
        if (progress.state === ProgressState.Replicate) progress.becomeProbe();
        return;
      case MessageType.TransferLeader:
        this.handleTransferLeader(message.from, progress);
        return;
      default:
        return;
    }
  }

  /** Sends appends to every member that can take them (at least an empty one, to carry the commit index). */
  private broadcastAppend(): void {
    this.appendBroadcastPending = false;
    for (const id of this.tracker.members) {
      if (id !== this.id) this.sendAppends(id, true);
    }
  }

  /**
   * Sends as many appends to `to` as its progress allows: one while probing, up to the inflight window
   * while replicating (each message takes a slot, so the loop ends).
   */
  private sendAppends(to: NodeId, sendIfEmpty: boolean): void {
    if (!this.maybeSendAppend(to, sendIfEmpty)) return;
    for (let sent = 1; sent < this.config.maxInflightMessages && this.maybeSendAppend(to, false); sent++) {
      // Keep sending.
    }
  }

  /**
   * Sends the next append to `to` unless its progress is paused; falls back to a snapshot when the entries
   * it needs are compacted. Returns whether a message went out.
   */
  private maybeSendAppend(to: NodeId, sendIfEmpty: boolean): boolean {
    const progress = this.tracker.get(to)!;
    if (progress.isPaused()) return false;
    const log = this.raftLog;
    const prevIndex = progress.next - 1;
    const prevTerm = log.term(prevIndex);
    if (prevTerm === undefined) return this.maybeSendSnapshot(to, progress);
    let entries: readonly Entry[] = NO_ENTRIES;
    // A full window still sends an empty append: if every inflight append was lost, its answer (ack or
    // rejection) is what frees the window again.
    if (progress.state !== ProgressState.Replicate || !progress.inflights.full()) {
      const fetched = log.entriesFrom(progress.next, this.config.maxSizePerMessageBytes);
      if (fetched === undefined) return this.maybeSendSnapshot(to, progress);
      entries = fetched;
    }
    if (entries.length === 0 && !sendIfEmpty) return false;
    const commit = log.committed;
    this.send({ type: MessageType.Append, to, index: prevIndex, logTerm: prevTerm, entries, commit });
    progress.sentEntries(entries.length, entries.length === 0 ? 0 : payloadSizeBytes(entries));
    progress.sentCommitIndex(commit);
    return true;
  }

  private maybeSendSnapshot(to: NodeId, progress: Progress): boolean {
    if (!progress.recentActive) return false;
    let snapshot: Snapshot;
    try {
      snapshot = this.raftLog.snapshot();
    } catch (error) {
      if (error instanceof SnapshotTemporarilyUnavailableError) return false;
      throw error;
    }
    const { index, term } = snapshot.metadata;
    if (index === 0)
      throw new RaftInvariantError(this.id, `entries for ${to} are compacted but no snapshot exists`);
    this.log("sent snapshot", { to, index, term });
    progress.becomeSnapshot(index);
    this.send({ type: MessageType.Snapshot, to, snapshot });
    return true;
  }

  private broadcastHeartbeat(): void {
    this.heartbeatBroadcastPending = false;
    const round = this.heartbeatRounds.start(this.leaderTicks);
    const committed = this.raftLog.committed;
    for (const id of this.tracker.members) {
      if (id === this.id) continue;
      const progress = this.tracker.get(id)!;
      // Never let a follower commit past what it is known to hold: its log beyond match may diverge.
      const commit = Math.min(progress.match, committed);
      this.send({ type: MessageType.Heartbeat, to: id, commit, index: round });
      progress.sentCommitIndex(commit);
    }
  }

  private maybeCommit(): boolean {
    const index = this.tracker.committedIndex();
    return this.raftLog.maybeCommit(index, this.term, this.commitsPreviousTermByCounting);
  }

  private handleAppendResponse(message: Message, progress: Progress): void {
    progress.recentActive = true;
    const from = message.from;
    if (message.reject) {
      // With the follower's term at the hint, skip every index where our term is higher: those cannot match.
      const nextProbe =
        message.logTerm > 0
          ? this.raftLog.findConflictByTerm(message.rejectHint, message.logTerm)
          : message.rejectHint;
      if (progress.maybeDecreaseTo(message.index, nextProbe)) {
        if (progress.state === ProgressState.Replicate) progress.becomeProbe();
        this.maybeSendAppend(from, true);
      }
      return;
    }
    const updated = progress.maybeUpdate(message.index);
    if (!updated && !(progress.match === message.index && progress.state === ProgressState.Probe)) return;
    if (progress.state === ProgressState.Probe) {
      progress.becomeReplicate();
    } else if (progress.state === ProgressState.Snapshot && progress.match + 1 >= this.raftLog.firstIndex()) {
      // The follower caught up past our compaction point (by the snapshot or otherwise): resume appends.
      progress.becomeProbe();
      progress.becomeReplicate();
    } else if (progress.state === ProgressState.Replicate) {
      progress.inflights.freeLE(message.index);
    }
    if (this.maybeCommit()) {
      this.releaseReadsAwaitingCommit();
      this.broadcastAppend();
    } else {
      // Fill the window the acknowledgement freed, or at least tell the follower the commit index.
      this.sendAppends(from, progress.canBumpCommit(this.raftLog.committed));
    }
    if (from === this.leadTransferee && progress.match === this.raftLog.lastIndex()) {
      this.log("transferee caught up: sending timeout now", { to: from });
      this.sendTimeoutNow(from);
    }
  }

  private handleHeartbeatResponse(message: Message, progress: Progress): void {
    progress.recentActive = true;
    progress.paused = false;
    // Also recovers a follower whose every inflight append was lost, and one stuck probing.
    if (progress.match < this.raftLog.lastIndex() || progress.state === ProgressState.Probe) {
      this.maybeSendAppend(message.from, true);
    }
    const round = message.index;
    if (progress.isLearner || round <= progress.ackedHeartbeatRound || round > this.heartbeatRounds.current)
      return;
    progress.ackedHeartbeatRound = round;
    const quorumRound = this.tracker.quorumAckedHeartbeatRound(this.id, this.heartbeatRounds.current);
    if (this.heartbeatRounds.confirm(quorumRound)) {
      for (const read of this.readIndexQueue.releaseConfirmed(quorumRound)) {
        this.respondToRead(read.requester, read.context, read.index);
      }
    }
  }

  private handleSnapshotStatus(message: Message, progress: Progress): void {
    if (progress.state !== ProgressState.Snapshot) return;
    // On failure forget the snapshot first, or probing would resume after an index never installed.
    if (message.reject) progress.pendingSnapshot = 0;
    progress.becomeProbe();
    this.log(message.reject ? "snapshot failed" : "snapshot installed", {
      to: message.from,
      next: progress.next,
    });
    // Wait for the follower's answer (or a heartbeat) before the next append.
    progress.paused = true;
  }

  private handleTransferLeader(target: NodeId, progress: Progress): void {
    if (progress.isLearner) {
      this.log("ignored leader transfer to a learner", { to: target });
      return;
    }
    if (this.leadTransferee !== NONE) {
      if (this.leadTransferee === target) {
        this.log("ignored leader transfer: already in progress", { to: target });
        return;
      }
      this.log("aborted previous leader transfer", { to: this.leadTransferee });
      this.leadTransferee = NONE;
    }
    if (target === this.id) {
      this.log("ignored leader transfer to self", { term: this.term });
      return;
    }
    this.log("started leader transfer", { to: target, term: this.term });
    // The transfer must finish within an election timeout; tickHeartbeat aborts it after that.
    this.electionElapsed = 0;
    this.leadTransferee = target;
    if (progress.match === this.raftLog.lastIndex()) {
      this.sendTimeoutNow(target);
    } else {
      this.maybeSendAppend(target, true);
    }
  }

  private sendTimeoutNow(to: NodeId): void {
    this.timeoutNowSent = true;
    this.send({ type: MessageType.TimeoutNow, to });
  }

  // ---------------------------------------------------------------- proposals

  /** Appends a local proposal (leader) or forwards it to the leader (follower). */
  propose(type: EntryType, data: Uint8Array): void {
    if (this.role === Role.Leader) {
      this.appendProposal(type, data);
      return;
    }
    if (this.role !== Role.Follower || this.leaderId === NONE) {
      throw new ProposalDroppedError(this.id, "no leader", NONE);
    }
    this.send({
      type: MessageType.Propose,
      to: this.leaderId,
      entries: [{ term: 0, index: 0, type, data }],
    });
  }

  private appendProposal(type: EntryType, data: Uint8Array): void {
    if (this.tracker.get(this.id) === undefined) {
      throw new ProposalDroppedError(this.id, "this leader was removed from the configuration", NONE);
    }
    if (this.leadTransferee !== NONE) {
      throw new ProposalDroppedError(
        this.id,
        `leadership is moving to ${this.leadTransferee}`,
        this.leadTransferee,
      );
    }
    if (type === EntryType.ConfChange) this.checkConfChangeProposal(data);
    const sizeBytes = data.byteLength;
    if (
      this.uncommittedSizeBytes > 0 &&
      sizeBytes > 0 &&
      this.uncommittedSizeBytes + sizeBytes > this.config.maxUncommittedEntriesBytes
    ) {
      throw new ProposalDroppedError(this.id, "too many uncommitted entry bytes", this.id);
    }
    this.uncommittedSizeBytes += sizeBytes;
    const index = this.raftLog.lastIndex() + 1;
    this.raftLog.appendOne({ term: this.term, index, type, data });
    if (type === EntryType.ConfChange) this.pendingConfIndex = index;
    this.appendBroadcastPending = true;
  }

  private checkConfChangeProposal(data: Uint8Array): void {
    let change: ConfChange;
    try {
      change = decodeConfChange(data);
    } catch (error) {
      if (error instanceof ConfChangeDecodeError) throw new InvalidConfChangeError(this.id, error.message);
      throw error;
    }
    if (this.pendingConfIndex > this.raftLog.applied) {
      throw new ProposalDroppedError(
        this.id,
        `conf change at ${this.pendingConfIndex} is not applied yet (applied ${this.raftLog.applied})`,
        this.id,
      );
    }
    const problem = this.tracker.validateConfChange(change);
    if (problem !== undefined) throw new InvalidConfChangeError(this.id, problem);
  }

  private appendForwardedProposals(message: Message): void {
    for (const entry of message.entries) {
      try {
        this.appendProposal(entry.type, entry.data);
      } catch (error) {
        if (!(error instanceof ProposalDroppedError || error instanceof InvalidConfChangeError)) throw error;
        this.log("dropped forwarded proposal", { from: message.from, reason: error.message });
      }
    }
  }

  /** Committed entries were handed out: their payload no longer counts against the uncommitted limit. */
  reduceUncommittedSize(entries: readonly Entry[]): void {
    if (this.role !== Role.Leader || this.uncommittedSizeBytes === 0) return;
    this.uncommittedSizeBytes = Math.max(0, this.uncommittedSizeBytes - payloadSizeBytes(entries));
  }

  // ---------------------------------------------------------------- reads

  /** A local ReadIndex request: answered as a ReadState here, or forwarded to the leader. */
  readIndex(context: Uint8Array): void {
    if (this.role === Role.Leader) {
      this.handleReadIndex(this.id, context);
      return;
    }
    this.stepByRole({
      type: MessageType.ReadIndex,
      from: NONE,
      to: this.id,
      term: 0,
      logTerm: 0,
      index: 0,
      entries: NO_ENTRIES,
      commit: 0,
      reject: false,
      rejectHint: 0,
      context,
    });
  }

  private committedEntryInCurrentTerm(): boolean {
    return this.raftLog.termOrZero(this.raftLog.committed) === this.term;
  }

  private handleReadIndex(requester: NodeId, context: Uint8Array): void {
    // Until an entry of this term commits, our commit index may lag the previous leader's: answering with
    // it could miss writes already acknowledged, so hold the request.
    if (!this.committedEntryInCurrentTerm()) {
      if (this.readsAwaitingCommit.length >= this.config.maxPendingReadIndexRequests) {
        this.log("dropped read index: too many pending", { from: requester });
        return;
      }
      this.readsAwaitingCommit.push({ requester, context });
      return;
    }
    this.answerReadIndex(requester, context);
  }

  private answerReadIndex(requester: NodeId, context: Uint8Array): void {
    const committed = this.raftLog.committed;
    if (this.tracker.isSingleton() && this.tracker.isVoter(this.id)) {
      this.respondToRead(requester, context, committed);
      return;
    }
    if (this.leaseValid()) {
      this.respondToRead(requester, context, committed);
      return;
    }
    const requiredRound = this.heartbeatRounds.current + 1;
    if (!this.readIndexQueue.add({ requester, context, index: committed, requiredRound })) {
      this.log("dropped read index: too many pending", { from: requester });
      return;
    }
    // One heartbeat round, sent with the next Ready, confirms every read that arrived before it.
    this.heartbeatBroadcastPending = true;
  }

  private releaseReadsAwaitingCommit(): void {
    if (this.readsAwaitingCommit.length === 0 || !this.committedEntryInCurrentTerm()) return;
    const reads = this.readsAwaitingCommit;
    this.readsAwaitingCommit = [];
    for (const read of reads) this.answerReadIndex(read.requester, read.context);
  }

  private respondToRead(requester: NodeId, context: Uint8Array, index: number): void {
    if (requester === this.id) {
      this.readStates.push({ index, requestContext: context });
    } else {
      this.send({ type: MessageType.ReadIndexResponse, to: requester, index, context });
    }
  }

  private leaseValid(): boolean {
    return (
      this.config.leaseRead &&
      this.leadTransferee === NONE &&
      !this.timeoutNowSent &&
      this.heartbeatRounds.leaseValid(this.leaderTicks, this.config.leaseTicks)
    );
  }

  // ---------------------------------------------------------------- configuration

  /** The application applies a committed conf change entry: switch to the new configuration. */
  applyConfChange(change: ConfChange): ConfState {
    if (!this.tracker.applyConfChange(change, this.raftLog.lastIndex())) {
      this.log("conf change not applicable: ignored", { type: change.type, node: change.nodeId });
    }
    const confState = this.tracker.confState();
    this.log("switched configuration", { voters: confState.voters, learners: confState.learners });
    if (this.role !== Role.Leader) return confState;
    const self = this.tracker.get(this.id);
    if (self === undefined || self.isLearner) {
      this.stepDownAfterRemoval();
      return confState;
    }
    // A smaller quorum may commit more; new members should be probed without waiting for a heartbeat.
    if (this.maybeCommit()) {
      this.releaseReadsAwaitingCommit();
      this.broadcastAppend();
    } else {
      for (const id of this.tracker.members) {
        if (id !== this.id) this.maybeSendAppend(id, false);
      }
    }
    if (this.leadTransferee !== NONE && !this.tracker.isVoter(this.leadTransferee)) {
      this.log("aborted leader transfer: transferee no longer a voter", { to: this.leadTransferee });
      this.leadTransferee = NONE;
    }
    return confState;
  }

  private stepDownAfterRemoval(): void {
    // Hand over to a voter that holds our whole log, so the group need not wait an election timeout.
    const lastIndex = this.raftLog.lastIndex();
    const successor = this.tracker.voters.find((id) => this.tracker.get(id)!.match === lastIndex) ?? NONE;
    this.log("stepping down: removed from the configuration", { successor });
    if (successor !== NONE) this.sendTimeoutNow(successor);
    this.becomeFollower(this.term, NONE);
  }

  // ---------------------------------------------------------------- persistence and application

  /** RawNode reports entries durable: the leader's own log now counts towards the quorum. */
  onLogPersisted(): void {
    if (this.role !== Role.Leader) return;
    const self = this.tracker.get(this.id);
    if (self === undefined || !self.maybeUpdate(this.raftLog.persistedIndex())) return;
    if (this.maybeCommit()) {
      this.releaseReadsAwaitingCommit();
      this.broadcastAppend();
    }
  }

  appliedTo(index: number): void {
    this.raftLog.appliedTo(index);
  }

  status(): Status {
    let progress: Map<NodeId, ProgressStatus> | undefined;
    if (this.role === Role.Leader) {
      progress = new Map();
      for (const id of this.tracker.members) {
        const member = this.tracker.get(id)!;
        progress.set(id, {
          match: member.match,
          next: member.next,
          state: progressStateName(member.state),
          isLearner: member.isLearner,
          paused: member.isPaused(),
          recentActive: member.recentActive,
          pendingSnapshot: member.pendingSnapshot,
          inflightMessages: member.inflights.count,
        });
      }
    }
    return {
      id: this.id,
      hardState: this.hardState(),
      softState: this.softState(),
      applied: this.raftLog.applied,
      lastIndex: this.raftLog.lastIndex(),
      confState: this.tracker.confState(),
      progress,
      leadTransferee: this.leadTransferee,
      leaseRemainingTicks: this.leaseRemainingTicks(),
    };
  }

  leaseRemainingTicks(): number {
    return this.role === Role.Leader && this.leaseValid()
      ? this.heartbeatRounds.leaseRemaining(this.leaderTicks, this.config.leaseTicks)
      : 0;
  }
}
