import { encodeConfChange } from "./conf-change.ts";
import type { RaftConfig } from "./config.ts";
import { RaftUsageError, StepLocalMessageError } from "./errors.ts";
import { RaftCore } from "./raft-core.ts";
import type { Ready } from "./ready.ts";
import type { Status } from "./status.ts";
import type { Storage } from "./storage.ts";
import {
  type ConfChange,
  type ConfState,
  EntryType,
  type HardState,
  isLocalMessage,
  type Message,
  MessageType,
  NO_ENTRIES,
  type NodeId,
  type ReadState,
  Role,
  type SoftState,
} from "./types.ts";

export { ProposalDroppedError } from "./errors.ts";

/** What a handed-out Ready asked to persist, to learn what became durable when it is reported. */
interface ReadyRecord {
  readonly number: number;
  /** First and last entry of the Ready, 0 when it had none. */
  readonly firstIndex: number;
  readonly lastIndex: number;
  readonly lastTerm: number;
  /** Index of the Ready's snapshot, 0 when none. */
  readonly snapshotIndex: number;
}

/** Readys handed out but not reported persisted; beyond this the caller has stopped calling onPersisted. */
const MAX_UNPERSISTED_READYS = 100_000;

const NO_MESSAGES: readonly Message[] = Object.freeze([]);
const NO_READ_STATES: readonly ReadState[] = Object.freeze([]);

function localMessage(type: MessageType, to: NodeId, from: NodeId, reject = false): Message {
  return {
    type,
    from,
    to,
    term: 0,
    logTerm: 0,
    index: 0,
    entries: NO_ENTRIES,
    commit: 0,
    reject,
    rejectHint: 0,
  };
}

/**
 * A raft node driven by its caller: feed it ticks, messages and requests; collect its work as numbered
 * Readys (see ready.ts for the handling contract). Not thread-safe and never blocks.
 */
export class RawNode {
  private readonly core: RaftCore;
  private previousSoftState: SoftState;
  private previousHardState: HardState;
  private lastReadyNumber = 0;
  private lastPersistedNumber = 0;
  /** Number of the Ready handed out and not yet advanced, 0 when none. */
  private awaitingAdvance = 0;
  /** Unpersisted Readys with entries or a snapshot, oldest first. */
  private records: ReadyRecord[] = [];
  /** The Ready carrying our vote for ourselves as candidate: the vote counts once it is durable. */
  private selfVoteReadyNumber = 0;
  private selfVoteTerm = 0;

  constructor(config: RaftConfig, storage: Storage) {
    this.core = new RaftCore(config, storage);
    this.previousSoftState = this.core.softState();
    this.previousHardState = this.core.hardState();
  }

  get id(): NodeId {
    return this.core.id;
  }

  tick(): void {
    this.core.tick();
  }

  /** Steps a message from another node. Local-only message types are rejected. */
  step(message: Message): void {
    if (isLocalMessage(message.type))
      throw new StepLocalMessageError(this.core.id, MessageType[message.type]);
    this.core.step(message);
  }

  /** Starts an election now (with pre-vote when configured). */
  campaign(): void {
    this.core.step(localMessage(MessageType.Hup, this.core.id, this.core.id));
  }

  /**
   * Proposes data to be appended to the log. On the leader it is appended; on a follower it is forwarded
   * to the leader (the store normally proposes on the leader only). Throws ProposalDroppedError when there
   * is no leader, leadership is being transferred, or the uncommitted log is full.
   */
  propose(data: Uint8Array): void {
    this.core.propose(EntryType.Normal, data);
  }

  /**
   * Proposes a single-step configuration change. Besides ProposalDroppedError (also while an earlier conf
   * change is not yet applied), throws InvalidConfChangeError for a change that can never apply.
   */
  proposeConfChange(change: ConfChange): void {
    this.core.propose(EntryType.ConfChange, encodeConfChange(change));
  }

  /** Called by the application when it applies a committed conf change entry; returns the new configuration. */
  applyConfChange(change: ConfChange): ConfState {
    return this.core.applyConfChange(change);
  }

  /** Asks the leader to hand leadership to `target` (a voter); forwarded when called on a follower. */
  transferLeader(target: NodeId): void {
    this.core.step(localMessage(MessageType.TransferLeader, this.core.id, target));
  }

  /**
   * Requests a linearizable read point; the answer arrives as a ReadState carrying `requestContext`.
   * Requests are dropped silently when there is no leader or leadership changes before they are
   * confirmed: callers time out and retry.
   */
  readIndex(requestContext: Uint8Array): void {
    this.core.readIndex(requestContext);
  }

  reportUnreachable(id: NodeId): void {
    this.core.step(localMessage(MessageType.Unreachable, this.core.id, id));
  }

  reportSnapshot(id: NodeId, status: "finish" | "failure"): void {
    this.core.step(localMessage(MessageType.SnapStatus, this.core.id, id, status === "failure"));
  }

  hasReady(): boolean {
    const core = this.core;
    if (core.messages.length > 0 || core.persistedMessages.length > 0 || core.readStates.length > 0)
      return true;
    if (core.hasBatchedBroadcasts()) return true;
    if (core.leaderId !== this.previousSoftState.leaderId || core.role !== this.previousSoftState.role)
      return true;
    if (this.hardStateChanged()) return true;
    const log = core.raftLog;
    if (log.unstable.hasEntriesToHandOut() || log.unstable.snapshotToHandOut() !== undefined) return true;
    return log.hasCommittedEntriesToHandOut();
  }

  private hardStateChanged(): boolean {
    const previous = this.previousHardState;
    const core = this.core;
    return (
      core.term !== previous.term || core.vote !== previous.vote || core.raftLog.committed !== previous.commit
    );
  }

  /** Collects the pending work; the previous Ready must have been advanced. */
  ready(): Ready {
    const core = this.core;
    if (this.awaitingAdvance !== 0) {
      throw new RaftUsageError(core.id, `ready() before advance() of Ready ${this.awaitingAdvance}`);
    }
    if (this.records.length >= MAX_UNPERSISTED_READYS) {
      throw new RaftUsageError(core.id, `${this.records.length} Readys were never reported persisted`);
    }
    core.flushBatchedBroadcasts();
    const number = ++this.lastReadyNumber;
    const softState = this.takeSoftState();
    const previousHardState = this.previousHardState;
    const hardState = this.takeHardState();
    const { entries, snapshot, committedEntries } = this.takeLogWork(number);
    if (hardState !== undefined && core.role === Role.Candidate && hardState.vote === core.id) {
      this.selfVoteReadyNumber = number;
      this.selfVoteTerm = hardState.term;
    }
    const mustSync =
      entries.length > 0 ||
      snapshot !== undefined ||
      (hardState !== undefined &&
        (hardState.term !== previousHardState.term || hardState.vote !== previousHardState.vote));
    this.awaitingAdvance = number;
    return {
      number,
      softState,
      hardState,
      entries,
      snapshot,
      committedEntries,
      messages: this.takeMessages(false),
      persistedMessages: this.takeMessages(true),
      readStates: this.takeReadStates(),
      mustSync,
    };
  }

  private takeSoftState(): SoftState | undefined {
    const core = this.core;
    if (core.leaderId === this.previousSoftState.leaderId && core.role === this.previousSoftState.role) {
      return undefined;
    }
    this.previousSoftState = core.softState();
    return this.previousSoftState;
  }

  private takeHardState(): HardState | undefined {
    if (!this.hardStateChanged()) return undefined;
    this.previousHardState = this.core.hardState();
    return this.previousHardState;
  }

  /** Hands out unstable entries, a pending snapshot and committed entries, recording what to persist. */
  private takeLogWork(number: number): Pick<Ready, "entries" | "snapshot" | "committedEntries"> {
    const log = this.core.raftLog;
    const unstable = log.unstable;
    const snapshot = unstable.snapshotToHandOut();
    const entries = unstable.hasEntriesToHandOut() ? unstable.entriesToHandOut() : NO_ENTRIES;
    const committedEntries = log.committedEntriesToHandOut();
    if (snapshot !== undefined && snapshot.metadata.index > log.applying)
      log.applying = snapshot.metadata.index;
    if (committedEntries.length > 0) {
      log.applying = committedEntries[committedEntries.length - 1]!.index;
      this.core.reduceUncommittedSize(committedEntries);
    }
    unstable.acceptInProgress();
    if (entries.length > 0 || snapshot !== undefined) {
      const last = entries.length > 0 ? entries[entries.length - 1]! : undefined;
      this.records.push({
        number,
        firstIndex: entries.length > 0 ? entries[0]!.index : 0,
        lastIndex: last?.index ?? 0,
        lastTerm: last?.term ?? 0,
        snapshotIndex: snapshot?.metadata.index ?? 0,
      });
    }
    return { entries, snapshot, committedEntries };
  }

  private takeMessages(persisted: boolean): readonly Message[] {
    const core = this.core;
    const messages = persisted ? core.persistedMessages : core.messages;
    if (messages.length === 0) return NO_MESSAGES;
    if (persisted) core.persistedMessages = [];
    else core.messages = [];
    return messages;
  }

  private takeReadStates(): readonly ReadState[] {
    const readStates = this.core.readStates;
    if (readStates.length === 0) return NO_READ_STATES;
    this.core.readStates = [];
    return readStates;
  }

  /**
   * The application took everything out of `ready` and applied its committed entries (or installed its
   * snapshot): the applied index moves past them.
   */
  advance(ready: Ready): void {
    if (ready.number !== this.awaitingAdvance) {
      throw new RaftUsageError(
        this.core.id,
        `advance() of Ready ${ready.number}, but the Ready awaiting advance is ${this.awaitingAdvance || "none"}`,
      );
    }
    this.awaitingAdvance = 0;
    this.core.appliedTo(this.core.raftLog.applying);
  }

  /** Optional: the application applied up to `appliedIndex` (at most what was handed out). */
  advanceApply(appliedIndex: number): void {
    this.core.appliedTo(appliedIndex);
  }

  /** Everything in Readys numbered <= `readyNumber` is durable. */
  onPersisted(readyNumber: number): void {
    const core = this.core;
    if (readyNumber > this.lastReadyNumber) {
      throw new RaftUsageError(
        core.id,
        `onPersisted(${readyNumber}) but the last Ready is ${this.lastReadyNumber}`,
      );
    }
    if (readyNumber <= this.lastPersistedNumber) return;
    this.lastPersistedNumber = readyNumber;
    this.stabilizeRecordsUpTo(readyNumber);
    if (this.selfVoteReadyNumber !== 0 && this.selfVoteReadyNumber <= readyNumber) {
      this.selfVoteReadyNumber = 0;
      core.onSelfVotePersisted(this.selfVoteTerm);
    }
    core.onLogPersisted();
  }

  private stabilizeRecordsUpTo(readyNumber: number): void {
    const unstable = this.core.raftLog.unstable;
    let durableIndex = 0;
    let durableTerm = 0;
    let snapshotIndex = 0;
    let consumed = 0;
    while (consumed < this.records.length && this.records[consumed]!.number <= readyNumber) {
      const record = this.records[consumed++]!;
      if (record.snapshotIndex > 0) {
        snapshotIndex = record.snapshotIndex;
        durableIndex = 0;
      }
      if (record.lastIndex > 0) {
        durableIndex = record.lastIndex;
        durableTerm = record.lastTerm;
      }
    }
    if (consumed === 0) return;
    this.records = this.records.slice(consumed);
    if (snapshotIndex > 0) unstable.stableSnapshotTo(snapshotIndex);
    if (durableIndex === 0) return;
    // Later Readys still being written may overwrite part of what is durable now, and so may entries not
    // handed out yet: only the prefix below both is durable for good.
    let limit = Math.min(durableIndex, unstable.inProgressOffset - 1);
    for (const pending of this.records) {
      if (pending.snapshotIndex > 0) return;
      if (pending.firstIndex > 0) limit = Math.min(limit, pending.firstIndex - 1);
    }
    if (limit === durableIndex) {
      unstable.stableTo(durableIndex, durableTerm);
    } else if (limit >= unstable.offset) {
      unstable.stableTo(limit, unstable.maybeTerm(limit)!);
    }
  }

  status(): Status {
    return this.core.status();
  }

  /**
   * `status().leaseRemainingTicks` without building the status (which copies every member's progress):
   * the store asks on every lease read. Ticks of lease left on a leader with lease reads, else 0.
   */
  leaseRemainingTicks(): number {
    return this.core.leaseRemainingTicks();
  }

  /** The current leader as this node knows it (NONE when unknown). */
  get leaderId(): NodeId {
    return this.core.leaderId;
  }
}
