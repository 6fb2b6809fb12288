/**
 * Drives one raft node the way a store would: ticks it from the virtual clock, delivers its messages,
 * and handles each Ready — messages sent at once; entries, hard state and snapshot written to the
 * simulated disk and made durable after a simulated fsync delay, then `onPersisted` and the
 * persisted-only messages; committed entries applied to the hash-chain state machine (conf changes
 * through `applyConfChange`).
 *
 * A crash throws away the RawNode and every Ready whose fsync had not finished; a restart builds a new
 * RawNode from what the disk kept, with the persisted applied index.
 */
import {
  type ConfChange,
  type ConfState,
  decodeConfChange,
  type Entry,
  EntryType,
  InvalidConfChangeError,
  MemoryStorage,
  type Message,
  MessageType,
  type NodeId,
  ProposalDroppedError,
  type RaftConfig,
  RawNode,
  type Ready,
  Role,
  type Snapshot,
} from "#raft";
import type { Random } from "#runtime";
import type { ScheduledEventHandle, Scheduler, SimNetwork } from "#sim";
import { type AppliedState, decodeSnapshotData } from "./applied-state.ts";
import { EMPTY_LOG_HASH, extendHash } from "./entry-hash.ts";
import type { RunCounters, Trace } from "./history.ts";
import { type InvariantChecker, InvariantViolation } from "./invariants.ts";
import { decodeProposal, decodeReadContext } from "./payload.ts";
import { RaftDisk } from "./raft-disk.ts";
import { SimStorage } from "./sim-storage.ts";

export interface DelayRangeMs {
  readonly minMs: number;
  readonly maxMs: number;
}

export interface NodeSettings {
  readonly tickMs: number;
  readonly fsyncDelay: DelayRangeMs;
  /** Chance that a crash keeps some unsynced Readys (written but not yet fsynced). */
  readonly tornWriteProbability: number;
  readonly raft: Omit<RaftConfig, "id" | "random" | "appliedIndex" | "logger">;
}

/**
 * Moments of a node's life a nemesis may strike at. Called synchronously while the node handles a Ready,
 * before that Ready's messages go out (except `messageSent`, called after each send).
 */
export interface NodeEvents {
  messageSent(host: NodeHost, message: Message): void;
  becameLeader(host: NodeHost): void;
  leaderCommitted(host: NodeHost): void;
}

/** What a node host needs from the simulation around it. */
export interface NodeContext {
  readonly scheduler: Scheduler;
  readonly network: SimNetwork<Message>;
  readonly checker: InvariantChecker;
  readonly trace: Trace;
  readonly counters: RunCounters;
  readonly settings: NodeSettings;
  confChangeApplied(node: NodeId, change: ConfChange, index: number, confState: ConfState): void;
  proposalApplied(proposalId: number, index: number): void;
  readonly events: NodeEvents;
}

interface PersistJob {
  readonly ready: Ready;
  readonly snapshotState: AppliedState | undefined;
  readonly event: ScheduledEventHandle;
}

const EMPTY_APPLIED: AppliedState = {
  index: 0,
  hash: EMPTY_LOG_HASH,
  confState: { voters: [], learners: [] },
};
// A node that keeps producing Readys without input is stuck in a loop; a healthy one needs a few rounds.
const MAX_READY_ROUNDS = 1000;

export class NodeHost {
  private raft: RawNode | undefined;
  private storage = new SimStorage(new MemoryStorage(), () => this.appliedState);
  private readonly disk: RaftDisk;
  private appliedState: AppliedState = EMPTY_APPLIED;
  private durableApplied = 0;
  private persistQueue: PersistJob[] = [];
  private lastPersistAtMs = 0;
  private tickEvent: ScheduledEventHandle | undefined;
  private term = 0;
  private commit = 0;
  private role = Role.Follower;
  private leader: NodeId = 0;

  constructor(
    readonly id: NodeId,
    private readonly context: NodeContext,
    private readonly random: Random,
  ) {
    this.disk = new RaftDisk({
      tornWriteProbability: context.settings.tornWriteProbability,
      random: random.fork(),
    });
  }

  get isUp(): boolean {
    return this.raft !== undefined;
  }

  get isLeader(): boolean {
    return this.raft !== undefined && this.role === Role.Leader;
  }

  get currentTerm(): number {
    return this.term;
  }

  get commitIndex(): number {
    return this.commit;
  }

  get knownLeader(): NodeId {
    return this.leader;
  }

  get applied(): AppliedState {
    return this.appliedState;
  }

  /** Applied index a crash can no longer take back. */
  get durableAppliedIndex(): number {
    return this.durableApplied;
  }

  get roleName(): string {
    return this.raft === undefined ? "down" : Role[this.role]!;
  }

  /** Writes the initial membership as a durable snapshot, like a store bootstrapping its first region. */
  bootstrap(snapshot: Snapshot): void {
    const { hash } = decodeSnapshotData(snapshot.data);
    const state: AppliedState = {
      index: snapshot.metadata.index,
      hash,
      confState: snapshot.metadata.confState,
    };
    const hardState = { term: snapshot.metadata.term, vote: 0, commit: snapshot.metadata.index };
    this.disk.writeReady({ entries: [], snapshot, snapshotState: state, hardState });
    this.disk.sync();
  }

  /** Starts (or restarts) the node from what its disk holds. */
  start(): void {
    if (this.raft !== undefined) throw new Error(`node ${this.id} is already running`);
    const loaded = this.disk.load();
    const storage = new SimStorage(new MemoryStorage(), () => this.appliedState);
    let base = { index: 0, term: 0, hash: EMPTY_LOG_HASH };
    if (loaded.snapshot !== undefined) {
      storage.memory.applySnapshot(loaded.snapshot);
      const { hash } = decodeSnapshotData(loaded.snapshot.data);
      base = { index: loaded.snapshot.metadata.index, term: loaded.snapshot.metadata.term, hash };
    }
    storage.memory.append(loaded.entries);
    storage.memory.setHardState(loaded.hardState);
    this.appliedState = loaded.applied ?? EMPTY_APPLIED;
    this.durableApplied = this.appliedState.index;
    storage.memory.setConfState(this.appliedState.confState);
    if (this.appliedState.index > loaded.hardState.commit) {
      throw new Error(
        `node ${this.id}: disk has applied ${this.appliedState.index} past commit ${loaded.hardState.commit}`,
      );
    }
    this.storage = storage;
    this.term = loaded.hardState.term;
    this.commit = loaded.hardState.commit;
    this.role = Role.Follower;
    this.leader = 0;
    const checker = this.context.checker;
    checker.resetLog(this.id, base.index, base.term, base.hash, "restarted");
    checker.entriesAppended(this.id, loaded.entries, 0);
    if (this.commit > 0) checker.commitAdvanced(this.id, this.term, this.commit);
    checker.restarted(this.id, loaded.hardState.term, loaded.hardState.vote);
    this.raft = new RawNode(
      {
        ...this.context.settings.raft,
        id: this.id,
        random: this.random.fork(),
        appliedIndex: this.appliedState.index,
      },
      storage,
    );
    this.lastPersistAtMs = this.context.scheduler.nowMs;
    this.scheduleTick(1 + this.random.intBelow(this.context.settings.tickMs));
    this.processReadys();
  }

  /** Loses the RawNode and every Ready not yet durable; the disk keeps only what was synced. */
  crash(): void {
    if (this.raft === undefined) return;
    this.tickEvent?.cancel();
    this.tickEvent = undefined;
    for (const job of this.persistQueue) job.event.cancel();
    this.persistQueue = [];
    this.disk.crash();
    this.raft = undefined;
    this.role = Role.Follower;
    this.leader = 0;
  }

  receive(message: Message): void {
    if (this.raft === undefined) return;
    this.raft.step(message);
    this.processReadys();
  }

  /** Returns false when raft dropped the proposal (no leader, transfer in progress, ...). */
  propose(data: Uint8Array): boolean {
    return this.withRaft((raft) => raft.propose(data));
  }

  /** Returns false when raft dropped the change or refused it as one that can never apply. */
  proposeConfChange(change: ConfChange): boolean {
    try {
      return this.withRaft((raft) => raft.proposeConfChange(change));
    } catch (error) {
      if (!(error instanceof InvalidConfChangeError)) throw error;
      this.context.trace.record(this.id, "conf change refused", error.message);
      return false;
    }
  }

  transferLeader(target: NodeId): void {
    this.withRaft((raft) => raft.transferLeader(target));
  }

  readIndex(context: Uint8Array): boolean {
    return this.withRaft((raft) => raft.readIndex(context));
  }

  campaign(): void {
    this.withRaft((raft) => raft.campaign());
  }

  reportSnapshot(target: NodeId, status: "finish" | "failure"): void {
    this.withRaft((raft) => raft.reportSnapshot(target, status));
  }

  reportUnreachable(target: NodeId): void {
    this.withRaft((raft) => raft.reportUnreachable(target));
  }

  /**
   * Compacts the log up to the applied index behind a snapshot of the state machine. Returns false when
   * there is nothing new to compact or a received snapshot is still being persisted.
   */
  compact(): boolean {
    const state = this.appliedState;
    if (this.raft === undefined || state.index <= this.storage.firstIndex() - 1) return false;
    if (this.persistQueue.some((job) => job.ready.snapshot !== undefined)) return false;
    const snapshot = this.storage.snapshotUpToApplied();
    this.storage.memory.compact(state.index);
    this.disk.writeCompaction(snapshot, state);
    return true;
  }

  private withRaft(action: (raft: RawNode) => void): boolean {
    if (this.raft === undefined) return false;
    try {
      action(this.raft);
    } catch (error) {
      if (!(error instanceof ProposalDroppedError)) throw error;
      this.processReadys();
      return false;
    }
    this.processReadys();
    return true;
  }

  private scheduleTick(delayMs: number): void {
    this.tickEvent = this.context.scheduler.schedule(
      delayMs,
      () => {
        this.raft?.tick();
        this.processReadys();
        this.scheduleTick(this.context.settings.tickMs);
      },
      "tick",
    );
  }

  private processReadys(): void {
    for (let round = 0; this.raft?.hasReady() === true; round++) {
      if (round >= MAX_READY_ROUNDS)
        throw new Error(`node ${this.id} produced ${MAX_READY_ROUNDS} Readys in a row`);
      const ready = this.raft.ready();
      this.handleReady(ready);
      this.raft.advance(ready);
    }
  }

  private handleReady(ready: Ready): void {
    this.context.trace.record(this.id, "ready", ready);
    const snapshotState = this.snapshotStateOf(ready.snapshot);
    // Written before anything is applied, so the disk never holds an applied index ahead of its log.
    this.disk.writeReady({ ...ready, snapshotState });
    this.observeLog(ready, snapshotState);
    for (const message of ready.messages) this.send(message);
    this.apply(ready.committedEntries);
    for (const readState of ready.readStates) {
      const readId = decodeReadContext(readState.requestContext);
      if (readId === undefined) continue;
      this.context.counters.readsAnswered++;
      this.context.checker.readAnswered(readId, this.id, readState.index);
    }
    this.enqueuePersist(ready, snapshotState);
  }

  private snapshotStateOf(snapshot: Snapshot | undefined): AppliedState | undefined {
    if (snapshot === undefined) return undefined;
    const { index, hash } = decodeSnapshotData(snapshot.data);
    if (index !== snapshot.metadata.index) {
      throw new InvariantViolation(
        "committed-changed",
        `node ${this.id} got a snapshot whose metadata says index ${snapshot.metadata.index} but whose data covers ${index}`,
      );
    }
    return { index, hash, confState: snapshot.metadata.confState };
  }

  /** Feeds the checker with the log, commit and role changes this Ready reveals. */
  private observeLog(ready: Ready, snapshotState: AppliedState | undefined): void {
    const checker = this.context.checker;
    const commitBefore = this.commit;
    const hardState = ready.hardState;
    if (hardState !== undefined) {
      if (hardState.term < this.term || hardState.commit < this.commit) {
        throw new InvariantViolation(
          "log-shape",
          `node ${this.id} hard state went back from (term ${this.term}, commit ${this.commit}) to (term ${hardState.term}, commit ${hardState.commit})`,
        );
      }
      this.term = hardState.term;
    }
    if (ready.snapshot !== undefined && snapshotState !== undefined) {
      checker.resetLog(
        this.id,
        snapshotState.index,
        ready.snapshot.metadata.term,
        snapshotState.hash,
        "installed",
      );
    }
    checker.entriesAppended(this.id, ready.entries, commitBefore);
    if (ready.softState !== undefined) {
      this.role = ready.softState.role;
      this.leader = ready.softState.leaderId;
      if (this.role === Role.Leader) {
        checker.becameLeader(this.id, this.term);
        this.context.events.becameLeader(this);
      }
    }
    if (hardState !== undefined && hardState.commit > commitBefore) {
      this.commit = hardState.commit;
      checker.commitAdvanced(this.id, this.term, this.commit);
      if (this.role === Role.Leader) this.context.events.leaderCommitted(this);
    }
  }

  private send(message: Message): void {
    const context = this.context;
    if (message.type === MessageType.RequestVoteResponse && !message.reject) {
      context.checker.voteGranted(message.from, message.term, message.to);
    } else if (message.type === MessageType.AppendResponse && !message.reject) {
      context.checker.appendAcknowledged(message.from, message.index, message.term, this.term);
    }
    if (message.type === MessageType.Snapshot) context.counters.snapshotsSent++;
    context.network.send(this.id, message.to, message);
    context.events.messageSent(this, message);
  }

  private apply(entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    const raft = this.raft!;
    let state = this.appliedState;
    for (const entry of entries) {
      if (entry.index !== state.index + 1) {
        throw new InvariantViolation(
          "state-machine-safety",
          `node ${this.id} applies index ${entry.index} right after ${state.index}`,
        );
      }
      let confState = state.confState;
      if (entry.type === EntryType.ConfChange) {
        const change = decodeConfChange(entry.data);
        confState = raft.applyConfChange(change);
        this.context.confChangeApplied(this.id, change, entry.index, confState);
      } else {
        const proposalId = decodeProposal(entry.data);
        if (proposalId !== undefined) this.context.proposalApplied(proposalId, entry.index);
      }
      const hash = extendHash(state.hash, entry);
      this.context.checker.applied(this.id, entry.index, hash);
      state = { index: entry.index, hash, confState };
    }
    this.appliedState = state;
    this.disk.writeApplied(state);
    raft.advanceApply(state.index);
  }

  private enqueuePersist(ready: Ready, snapshotState: AppliedState | undefined): void {
    const needsSync = ready.mustSync || ready.snapshot !== undefined || ready.hardState !== undefined;
    const scheduler = this.context.scheduler;
    const { minMs, maxMs } = this.context.settings.fsyncDelay;
    const delayMs = needsSync ? minMs + this.random.intBelow(maxMs - minMs + 1) : 0;
    // Fsyncs complete in the order they were issued, like one write-ahead log.
    const atMs = Math.max(scheduler.nowMs + delayMs, this.lastPersistAtMs);
    this.lastPersistAtMs = atMs;
    const job: PersistJob = {
      ready,
      snapshotState,
      event: scheduler.scheduleAt(atMs, () => this.persist(job), "fsync"),
    };
    this.persistQueue.push(job);
  }

  private persist(job: PersistJob): void {
    const raft = this.raft!;
    this.persistQueue.shift();
    const ready = job.ready;
    this.disk.sync();
    if (ready.snapshot !== undefined) {
      this.storage.memory.applySnapshot(ready.snapshot);
      this.restoreSnapshot(job.snapshotState!);
    }
    this.storage.memory.append(ready.entries);
    if (ready.hardState !== undefined) this.storage.memory.setHardState(ready.hardState);
    // The sync covered every applied state written so far, which includes the current one.
    this.durableApplied = this.appliedState.index;
    raft.onPersisted(ready.number);
    for (const message of ready.persistedMessages) this.send(message);
    this.processReadys();
  }

  private restoreSnapshot(state: AppliedState): void {
    if (state.index < this.appliedState.index) {
      throw new InvariantViolation(
        "state-machine-safety",
        `node ${this.id} installs a snapshot at ${state.index} below its applied index ${this.appliedState.index}`,
      );
    }
    this.appliedState = state;
    this.context.counters.snapshotsInstalled++;
    this.context.checker.applied(this.id, state.index, state.hash);
  }
}
