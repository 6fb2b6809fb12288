/**
 * The batch system (TiKV's, adapted to one Node thread). Work for regions accumulates in their mailboxes
 * and in the store's inbox; one turn, scheduled with setImmediate, handles a batch of regions at once:
 *
 *   1. store work: changes queued with `runInTurn`, then received raft messages routed to their regions
 *      (which may create or destroy peers), then due ticks for every region;
 *   2. inputs of the turn's regions: raft messages and reports, ticks, then proposals and read requests;
 *   3. every region's Ready;
 *   4. messages that may leave before persistence (a leader's appends and heartbeats) go out, and the
 *      turn yields once so they are on the wire before the fsync;
 *   5. snapshots raft accepted start installing;
 *   6. the Readys' entries and hard states go into ONE raft engine batch with ONE sync;
 *   7. onPersisted, then the messages that promise durable state (votes, append responses);
 *   8. committed entries apply in ONE kv batch (apply state in the same batch; not synced, the synced raft
 *      log replays it), then proposers and readers are answered;
 *   9. advance; destroyed peers are torn down; background jobs start (snapshots, split checks).
 *
 * Ownership: only a turn changes a peer or the store meta, through the Turn capability it passes down;
 * everything else queues work (mailboxes, the inbox, `runInTurn`). Background jobs run in the store's task
 * scope and report back through mailboxes. The one engine writer besides turns is a snapshot install,
 * confined to its region's keys, which no turn writes meanwhile (the peer waits). Any failure inside a
 * turn or an install is fatal: the store stops rather than continue with engines and raft state that
 * may disagree.
 *
 * Limits (raftstore-config.ts): regions per turn, mailbox items per region per turn, bytes per raft write
 * batch, received messages waiting to be routed, changes waiting for a turn. Work over a limit waits for
 * the next turn, which is scheduled at once; a full mailbox or inbox refuses (ServerIsBusy, or a dropped
 * raft message that raft resends).
 */
import type { metapb, raft_cmdpb, raft_serverpb } from "#proto";
import {
  type Entry,
  entrySizeBytes,
  InvalidConfChangeError,
  type Message,
  MessageType,
  ProposalDroppedError,
  type Ready,
  StepLocalMessageError,
} from "#raft";
import { WriteBatch } from "#rocksdb";
import type { TimerHandle } from "#runtime";
import { rawBatchGet } from "../engine/kv-engine.ts";
import type { AppliedSnapshot } from "../snapshot/snapshot-applier.ts";
import { type AppliedEntry, type ApplyEffect, type ApplyState, ApplyTurn, applyEntries } from "./apply.ts";
import { overlayKey } from "./apply-overlay.ts";
import { initialRaftState } from "./initial-state.ts";
import { envelopeOf, Outbox } from "./outbox.ts";
import { Peer } from "./peer.ts";
import {
  checkStalePeer,
  destroyPeer,
  drainGonePeer,
  requestDestroy,
  routeRaftMessage,
} from "./peer-lifecycle.ts";
import type { PeerTask, PendingCommand } from "./peer-mailbox.ts";
import {
  adoptInstalledSnapshot,
  discardIncomingSnapshot,
  expireOutgoingSnapshot,
  installSnapshot,
  invalidateOutgoingSnapshot,
  onSnapshotGenerated,
  onSnapshotSent,
  sendSnapshotMessage,
  startSnapshotGeneration,
} from "./peer-snapshot.ts";
import { ProposalInvariantError } from "./proposal.ts";
import { type DecodedEntry, decodeEntry } from "./raft-command.ts";
import { compactLogTarget } from "./raft-log-gc.ts";
import type { PendingRead } from "./read-path.ts";
import { epochMismatch, NO_EPOCH_CHECK } from "./region-epoch.ts";
import {
  EpochNotMatchError,
  NotLeaderError,
  ReadIndexNotReadyError,
  RegionError,
  ServerIsBusyError,
  StaleCommandError,
} from "./region-errors.ts";
import { confStateOfRegion, findPeerOnStore, sameConfState } from "./region-meta.ts";
import { checkSplit, onRegionMeasured } from "./split-checker.ts";
import type { StoreContext } from "./store-context.ts";
import { submitCommand } from "./submit-command.ts";
import { Turn } from "./turn.ts";

/** Ticks delivered at once after a stall; beyond an election timeout more ticks change nothing. */
const MAX_TICKS_PER_TURN_FACTOR = 2;

interface PeerReady {
  readonly peer: Peer;
  readonly ready: Ready;
}

/** A snapshot installing in the background; its peer's Ready waits for it. */
interface SnapshotInstall {
  readonly ready: Ready;
  readonly settled: Promise<void>;
  applied?: AppliedSnapshot;
  failure?: Error;
}

/** A change queued by `runInTurn`. */
interface StoreChange {
  readonly label: string;
  readonly run: (turn: Turn) => void;
  readonly fail: (error: Error) => void;
}

/** Runs the loop's next turn later (never synchronously): setImmediate, or a simulation's scheduler. */
export type TurnScheduler = (turn: () => void) => void;

export const immediateTurnScheduler: TurnScheduler = (turn) => {
  setImmediate(turn);
};

export class StoreLoopInvariantError extends Error {
  override readonly name = "StoreLoopInvariantError";
}

export class StoreLoop {
  /** Peers with work, in the order they got it (a Set iterates in insertion order: the turn is FIFO). */
  private readonly active = new Set<Peer>();
  private inbox: raft_serverpb.RaftMessage[] = [];
  private changes: StoreChange[] = [];
  /** Split peers whose initial raft state goes into the next raft batch. */
  private readonly initialRaftStates = new Set<Peer>();
  /** Peers whose truncated log entries wait to be deleted from the raft engine. */
  private readonly logGcPending = new Set<Peer>();
  /** Snapshots installing in the background, by peer. */
  private readonly installs = new Map<Peer, SnapshotInstall>();
  /** Peers that stepped a staged snapshot's message and whose next Ready tells whether raft took it. */
  private readonly snapshotsStepped = new Set<Peer>();
  /** Peers that consumed ticks this turn (their timed checks run after it). */
  private readonly tickedThisTurn = new Set<Peer>();
  private scheduled = false;
  private running: Promise<void> | undefined;
  private closed = false;
  private failure: Error | undefined;
  private turnNumber = 0;
  private tickDue = false;
  private lastTickMs: number;
  private lastLogGcMs: number;
  private lastSplitCheckMs: number;
  private tickTimer: TimerHandle | undefined;

  constructor(
    private readonly context: StoreContext,
    private readonly onFatal: (error: Error) => void,
    private readonly scheduleTurn: TurnScheduler = immediateTurnScheduler,
  ) {
    const now = context.clock.monotonicMs();
    this.lastTickMs = now;
    this.lastLogGcMs = now;
    this.lastSplitCheckMs = now;
    context.loop = {
      isStopped: () => this.stopped,
      wake: (peer) => this.wake(peer),
      runInTurn: (label, change) => this.runInTurn(label, change),
    };
  }

  get turns(): number {
    return this.turnNumber;
  }

  /** When the last delivered tick was due (monotonic ms): leases count from ticks. */
  get lastTickAtMs(): number {
    return this.lastTickMs;
  }

  /** The error that stopped the loop, if one did. */
  get fatalError(): Error | undefined {
    return this.failure;
  }

  /** Closed or stopped by a fatal error: no turn will run again. */
  get stopped(): boolean {
    return this.closed || this.failure !== undefined;
  }

  start(): void {
    this.tickTimer = this.context.timers.setInterval(() => {
      this.tickDue = true;
      this.schedule();
    }, this.context.config.baseTickMs);
  }

  wake(peer: Peer): void {
    if (this.stopped) return;
    this.active.add(peer);
    this.schedule();
  }

  /** Raft messages from other stores, routed at the start of the next turn; false when the inbox is full. */
  receive(message: raft_serverpb.RaftMessage): boolean {
    if (this.stopped || this.inbox.length >= this.context.config.maxStoreInbox) return false;
    this.inbox.push(message);
    this.schedule();
    return true;
  }

  /** See LoopHandle.runInTurn. */
  runInTurn<T>(label: string, change: (turn: Turn) => T): Promise<T> {
    const { config } = this.context;
    if (this.stopped) {
      return Promise.reject(new ServerIsBusyError("the store is not running", config.busyBackoffMs));
    }
    if (this.changes.length >= config.maxStoreInbox) {
      return Promise.reject(
        new ServerIsBusyError(`${this.changes.length} store changes wait for a turn`, config.busyBackoffMs),
      );
    }
    return new Promise<T>((resolve, reject) => {
      this.changes.push({ label, run: (turn) => resolve(change(turn)), fail: reject });
      this.schedule();
    });
  }

  /**
   * Stops scheduling turns; waits for the one in progress and for snapshots being installed; fails the
   * changes still queued. The store closes its task scope after this.
   */
  async close(): Promise<void> {
    this.closed = true;
    this.tickTimer?.cancel();
    await this.running;
    await Promise.all([...this.installs.values()].map((install) => install.settled));
    this.failQueuedChanges(new ServerIsBusyError("the store is closing", this.context.config.busyBackoffMs));
    this.inbox = [];
  }

  /** No turn will run the queued changes: their callers hear why. */
  private failQueuedChanges(error: Error): void {
    for (const change of this.changes.splice(0)) change.fail(error);
  }

  private schedule(): void {
    // `scheduled` stays set until the turn has ended: a turn wakes peers before its first await, when
    // `running` is not assigned yet, and those wakes must not schedule a second turn beside it.
    if (this.scheduled || this.stopped) return;
    this.scheduled = true;
    this.scheduleTurn(() => {
      if (this.stopped) {
        this.scheduled = false;
        return;
      }
      this.running = this.runTurn().finally(() => {
        this.running = undefined;
        this.scheduled = false;
        if (this.hasWork()) this.schedule();
      });
    });
  }

  private hasWork(): boolean {
    return this.active.size > 0 || this.tickDue || this.inbox.length > 0 || this.changes.length > 0;
  }

  private async runTurn(): Promise<void> {
    const started = this.context.clock.monotonicMs();
    const turn = new Turn(++this.turnNumber, started);
    try {
      await this.turn(turn);
    } catch (error) {
      this.failure = error instanceof Error ? error : new StoreLoopInvariantError(String(error));
      this.context.logger.fatal({ err: this.failure }, "store loop failed; the store stops");
      this.failQueuedChanges(this.failure);
      this.onFatal(this.failure);
      return;
    } finally {
      turn.close();
    }
    this.context.metrics.turnDuration.observe((this.context.clock.monotonicMs() - started) / 1000);
  }

  private async turn(turn: Turn): Promise<void> {
    this.runStoreChanges(turn);
    this.routeInbox(turn);
    this.deliverTicks(turn);
    const peers = this.takePeers();
    const resumed = this.takeInstalledSnapshots(turn);
    const waiting = (peer: Peer): boolean => this.installs.has(peer) || resumed.has(peer);
    for (const peer of peers) if (!waiting(peer)) this.handleInputs(turn, peer);
    const collected = this.collectReadys(
      turn,
      peers.filter((peer) => !waiting(peer)),
    );
    const outbox = new Outbox();
    for (const { peer, ready } of collected) {
      if (ready.softState !== undefined) this.onSoftState(turn, peer, ready);
      this.queueMessages(turn, peer, ready.messages, outbox);
    }
    const sentEarly = outbox.size > 0;
    outbox.flush(this.context.transport);
    const readys = [...resumed.values(), ...this.startSnapshotInstalls(turn, collected)];
    // gRPC's HTTP/2 frames leave the process only when the event loop gets past this task, and the synced
    // write below blocks the thread: without a yield, followers would receive the appends only after the
    // leader's fsync, putting two fsyncs in a row on every write's path instead of two side by side.
    if (sentEarly) await new Promise<void>((resume) => this.scheduleTurn(resume));
    await this.persist(turn, readys);
    for (const { peer, ready } of readys) {
      peer.onPersisted(turn, ready);
      this.queueMessages(turn, peer, ready.persistedMessages, outbox);
    }
    outbox.flush(this.context.transport);
    await this.apply(turn, readys);
    for (const { peer, ready } of readys) this.finishReady(turn, peer, ready);
    await this.destroyRemovedPeers(turn, peers, readys, outbox);
    outbox.flush(this.context.transport);
    this.afterTurn(turn, peers);
  }

  // ---- 1. store work -------------------------------------------------------------------------------------

  private runStoreChanges(turn: Turn): void {
    // Only the changes queued before the turn: one queued by a change waits for the next turn.
    for (let queued = this.changes.length; queued > 0; queued--) {
      const change = this.changes.shift()!;
      try {
        change.run(turn);
      } catch (error) {
        // A refusal the change itself decided (a snapshot it will not take) goes to its caller; anything
        // else is a broken invariant in the loop's own code: its caller hears of it, and the turn fails
        // (which fails the changes still queued).
        change.fail(error instanceof Error ? error : new StoreLoopInvariantError(String(error)));
        if (!isRefusal(error)) throw error;
      }
    }
  }

  private routeInbox(turn: Turn): void {
    const messages = this.inbox;
    this.inbox = [];
    for (const message of messages) routeRaftMessage(this.context, turn, message);
  }

  private deliverTicks(turn: Turn): void {
    if (!this.tickDue) return;
    this.tickDue = false;
    const { config, meta } = this.context;
    const elapsed = Math.floor((turn.nowMs - this.lastTickMs) / config.baseTickMs);
    if (elapsed <= 0) return;
    this.lastTickMs += elapsed * config.baseTickMs;
    const max = MAX_TICKS_PER_TURN_FACTOR * config.electionTicks;
    for (const peer of meta.peers()) {
      peer.addTicks(turn, elapsed, max);
      this.active.add(peer);
    }
    this.runPeriodicJobs(turn);
  }

  /** The first `maxPeersPerTurn` peers with work; the rest stay active for the next turn. */
  private takePeers(): Peer[] {
    const peers: Peer[] = [];
    const max = this.context.config.maxPeersPerTurn;
    for (const peer of this.active) {
      if (peers.length >= max) break;
      peers.push(peer);
    }
    for (const peer of peers) this.active.delete(peer);
    return peers;
  }

  // ---- 2. inputs -----------------------------------------------------------------------------------------

  private handleInputs(turn: Turn, peer: Peer): void {
    if (peer.destroyed) {
      drainGonePeer(this.context, turn, peer);
      return;
    }
    if (peer.isGoingAway) return;
    const clientWork: PeerTask[] = [];
    for (const task of peer.mailbox.take(this.context.config.maxMessagesPerPeerPerTurn)) {
      if (task.kind === "command" || task.kind === "read-index") clientWork.push(task);
      else this.handlePeerTask(turn, peer, task);
    }
    if (peer.pendingTicks > 0) {
      peer.tick(turn);
      this.tickedThisTurn.add(peer);
    }
    // Proposals go last: nothing after them in this turn may change the log, so each one's (index, term)
    // is exactly where the leader appended it.
    for (const task of clientWork) {
      if (peer.isGoingAway) this.failClientTask(peer, task);
      else if (task.kind === "command") this.propose(turn, peer, task.command);
      else if (task.kind === "read-index") this.askReadIndex(turn, peer, task.read);
    }
  }

  private handlePeerTask(turn: Turn, peer: Peer, task: PeerTask): void {
    switch (task.kind) {
      case "raft":
        this.step(turn, peer, task.message, task.envelope);
        return;
      case "unreachable":
        peer.reportUnreachable(turn, task.to);
        return;
      case "snapshot-status":
        onSnapshotSent(this.context, turn, peer, task);
        return;
      case "transfer-leader":
        peer.transferLeader(turn, task.to);
        return;
      case "campaign":
        peer.campaign(turn);
        return;
      case "destroy":
        requestDestroy(this.context, turn, peer, task.reason);
        return;
      case "snapshot-generated":
        onSnapshotGenerated(this.context, turn, peer, task.generated);
        return;
      case "region-measured":
        onRegionMeasured(this.context, turn, peer, task.estimate);
        return;
      case "job-done":
        peer.finishJob(turn, task.job);
        return;
      case "command":
      case "read-index":
        throw new StoreLoopInvariantError(`client task ${task.kind} routed as a peer task`);
      default:
        task satisfies never;
    }
  }

  private failClientTask(peer: Peer, task: PeerTask): void {
    const error = new StaleCommandError(peer.regionId, "the peer is going away");
    if (task.kind === "command") task.command.proposal.fail(error);
    else if (task.kind === "read-index") task.read.fail(error);
  }

  private step(turn: Turn, peer: Peer, message: Message, envelope: raft_serverpb.RaftMessage): void {
    if (peer.isGoingAway) return;
    try {
      peer.step(turn, message, envelope.fromPeer!, turn.nowMs);
    } catch (error) {
      if (!(error instanceof StepLocalMessageError)) throw error;
      this.context.metrics.raftMessagesDropped.inc({ reason: "unexpected_type" });
      return;
    }
    const fromLeader =
      message.type === MessageType.Append ||
      message.type === MessageType.Heartbeat ||
      message.type === MessageType.Snapshot;
    if (fromLeader) peer.sawLeader(turn, turn.nowMs);
    if (message.type === MessageType.Snapshot) this.snapshotsStepped.add(peer);
  }

  private propose(turn: Turn, peer: Peer, command: PendingCommand): void {
    const { proposal } = command;
    const { metrics, meta } = this.context;
    // The raw node is the authority: it may have stepped down while stepping this turn's messages, and a
    // follower would forward the proposal instead of appending it.
    if (peer.raftLeaderId !== peer.nodeId) {
      metrics.proposalsDropped.inc({ reason: "not_leader" });
      proposal.fail(new NotLeaderError(peer.regionId, peer.leaderPeer()));
      return;
    }
    if (command.term !== undefined && command.term !== peer.term) {
      // Refused before it reached the log, so the client may safely compute it again on the leader.
      metrics.proposalsDropped.inc({ reason: "stale_term" });
      proposal.fail(new NotLeaderError(peer.regionId, peer.leaderPeer()));
      return;
    }
    if (epochMismatch(command.epoch, peer.region, command.epochCheck)) {
      metrics.proposalsDropped.inc({ reason: "epoch" });
      proposal.fail(new EpochNotMatchError(peer.regionId, command.epoch, meta.currentRegions(peer.region)));
      return;
    }
    try {
      peer.propose(turn, proposal, command.data, command.confChange);
    } catch (error) {
      metrics.proposalsDropped.inc({ reason: "dropped" });
      proposal.fail(this.proposalError(peer, error));
    }
  }

  private proposalError(peer: Peer, error: unknown): Error {
    if (error instanceof InvalidConfChangeError) return error;
    if (!(error instanceof ProposalDroppedError)) throw error;
    // Dropped by the leader itself (uncommitted log full, a conf change still pending): retry later.
    if (error.leaderId === peer.nodeId)
      return new ServerIsBusyError(error.reason, this.context.config.busyBackoffMs);
    return new NotLeaderError(peer.regionId, peer.knownPeer(error.leaderId));
  }

  private askReadIndex(turn: Turn, peer: Peer, read: PendingRead): void {
    if (peer.raftLeaderId === 0) {
      read.fail(new NotLeaderError(peer.regionId, undefined));
      return;
    }
    peer.readIndex(turn, read.context);
    peer.reads.askedRaft(read);
  }

  // ---- 3. and 4. readys and messages ----------------------------------------------------------------------

  /** Readys of `peers` until their entries reach the raft write batch limit; the rest wait a turn. */
  private collectReadys(turn: Turn, peers: readonly Peer[]): PeerReady[] {
    const readys: PeerReady[] = [];
    const maxBytes = this.context.config.maxRaftWriteBatchBytes;
    let bytes = 0;
    for (const peer of peers) {
      if (peer.isGoingAway || !peer.hasReady()) continue;
      if (bytes >= maxBytes) {
        this.active.add(peer);
        continue;
      }
      const ready = peer.ready(turn);
      for (const entry of ready.entries) bytes += entrySizeBytes(entry);
      readys.push({ peer, ready });
      if (this.snapshotsStepped.delete(peer) && ready.snapshot === undefined) {
        // Raft refused the staged snapshot (stale by the time it stepped): free its range and file.
        discardIncomingSnapshot(this.context, turn, peer);
      }
    }
    this.context.metrics.regionsPerTurn.observe(readys.length);
    return readys;
  }

  private onSoftState(turn: Turn, peer: Peer, ready: Ready): void {
    const previousLeader = peer.leaderId;
    const steppedDown = peer.onSoftState(turn, ready.softState!, turn.nowMs);
    const { metrics, meta } = this.context;
    if (steppedDown) {
      const count = peer.failProposals(
        () => new StaleCommandError(peer.regionId, "the proposer stopped leading before the command applied"),
      );
      metrics.staleCommands.inc(count);
      peer.reads.failUnconfirmed(() => new NotLeaderError(peer.regionId, peer.leaderPeer()));
    }
    metrics.leaders.set(meta.leaderCount());
    if (previousLeader !== peer.leaderId) this.context.regionChanged(peer.regionId);
  }

  private queueMessages(turn: Turn, peer: Peer, messages: readonly Message[], outbox: Outbox): void {
    for (const message of messages) {
      if (message.type === MessageType.Snapshot) {
        sendSnapshotMessage(this.context, turn, peer, message);
        continue;
      }
      const toPeer = peer.knownPeer(message.to);
      if (toPeer === undefined) {
        this.context.logger.warn({ regionId: peer.regionId, to: message.to }, "no address for raft peer");
        continue;
      }
      outbox.add(toPeer.storeId, envelopeOf(peer, message, toPeer));
    }
  }

  // ---- 5. snapshots -------------------------------------------------------------------------------------

  /** Sets aside the Readys that carry a snapshot, installing it in the background; returns the rest. */
  private startSnapshotInstalls(turn: Turn, readys: readonly PeerReady[]): PeerReady[] {
    const rest: PeerReady[] = [];
    for (const peerReady of readys) {
      const { peer, ready } = peerReady;
      if (ready.snapshot === undefined) {
        rest.push(peerReady);
        continue;
      }
      const started = installSnapshot(this.context, turn, peer, ready.snapshot, ready.hardState);
      const install: SnapshotInstall = {
        ready,
        // Owned by the loop: close() awaits it, and a failure is taken up (fatally) by the next turn.
        settled: started.then(
          (applied) => {
            install.applied = applied;
            this.wake(peer);
          },
          (error: unknown) => {
            install.failure = error instanceof Error ? error : new StoreLoopInvariantError(String(error));
            this.wake(peer);
          },
        ),
      };
      this.installs.set(peer, install);
    }
    return rest;
  }

  /** Peers whose snapshot is installed, with the Ready that waited for it. A failed install is fatal. */
  private takeInstalledSnapshots(turn: Turn): Map<Peer, PeerReady> {
    const resumed = new Map<Peer, PeerReady>();
    for (const [peer, install] of this.installs) {
      if (install.failure !== undefined) throw install.failure;
      if (install.applied === undefined) continue;
      this.installs.delete(peer);
      adoptInstalledSnapshot(this.context, turn, peer, install.applied);
      resumed.set(peer, { peer, ready: install.ready });
    }
    return resumed;
  }

  // ---- 6. persist ----------------------------------------------------------------------------------------

  private async persist(turn: Turn, readys: readonly PeerReady[]): Promise<void> {
    const { raftLogStore } = this.context.engines;
    const batch = new WriteBatch();
    this.addLogGc(turn, batch);
    for (const peer of this.initialRaftStates) {
      if (!peer.destroyed) raftLogStore.putRaftState(batch, peer.regionId, initialRaftState());
    }
    this.initialRaftStates.clear();
    let sync = false;
    let entries = 0;
    for (const { peer, ready } of readys) {
      if (ready.entries.length === 0 && ready.hardState === undefined && ready.snapshot === undefined)
        continue;
      const lastIndex = raftLogStore.appendEntries(batch, peer.regionId, ready.entries, peer.log.lastIndex());
      const hardState = ready.hardState ?? peer.hardState;
      raftLogStore.putRaftState(batch, peer.regionId, { hardState, lastIndex });
      sync ||= ready.mustSync;
      entries += ready.entries.length;
    }
    if (batch.operationCount > 0) await this.writeRaftBatch(batch, sync, entries);
    for (const { peer, ready } of readys) peer.persisted(turn, ready);
  }

  private async writeRaftBatch(batch: WriteBatch, sync: boolean, entries: number): Promise<void> {
    const { metrics, clock, engines } = this.context;
    const started = clock.monotonicMs();
    await engines.raftLogStore.engine.write(batch, { sync });
    metrics.raftWriteBatchBytes.observe(batch.approximateSizeBytes);
    if (!sync) return;
    metrics.fsyncs.inc();
    metrics.fsyncDuration.observe((clock.monotonicMs() - started) / 1000);
    metrics.entriesPerFsync.observe(entries);
  }

  /** Deletes log entries that a durable CompactLog truncated. */
  private addLogGc(turn: Turn, batch: WriteBatch): void {
    for (const peer of this.logGcPending) {
      if (peer.destroyed || peer.pendingLogDeleteBefore <= peer.firstStoredIndex) continue;
      this.context.engines.raftLogStore.deleteEntriesBefore(
        batch,
        peer.regionId,
        peer.pendingLogDeleteBefore,
        peer.firstStoredIndex,
      );
      peer.logDeleted(turn);
    }
    this.logGcPending.clear();
  }

  // ---- 8. apply -------------------------------------------------------------------------------------------

  private async apply(turn: Turn, readys: readonly PeerReady[]): Promise<void> {
    const work = readys
      .filter(({ ready, peer }) => ready.committedEntries.length > 0 && !peer.destroyed)
      .map(({ peer, ready }) => ({
        peer,
        decoded: ready.committedEntries.map((entry: Entry) => decodeEntry(peer.regionId, entry)),
      }));
    if (work.length === 0) return;
    const { engines, meta, metrics, clock } = this.context;
    const started = clock.monotonicMs();
    const casReads = await this.readCasKeys(work.flatMap(({ decoded }) => decoded));
    const batch = new WriteBatch();
    const applyTurn = new ApplyTurn(batch, casReads, {
      currentRegions: (region) => meta.currentRegions(region),
      isTombstoned: (regionId) => meta.isTombstoned(regionId),
    });
    const results = work.map(({ peer, decoded }) => {
      const state = peer.applyState();
      const applied = applyEntries(applyTurn, state, decoded, (index) => peer.log.term(index));
      metrics.appliedEntries.inc(decoded.length);
      return { peer, state, applied };
    });
    await engines.kvEngine.write(batch, { sync: applyTurn.syncRequired });
    metrics.applyWriteBatchBytes.observe(batch.approximateSizeBytes);
    for (const { peer, state, applied } of results) this.finishApply(turn, peer, state, applied);
    metrics.applyDuration.observe((clock.monotonicMs() - started) / 1000);
  }

  /** Current values of every key a compare-and-swap in `entries` reads: one engine read per turn. */
  private async readCasKeys(entries: readonly DecodedEntry[]): Promise<Map<string, Uint8Array | undefined>> {
    const keys = new Map<string, Uint8Array>();
    for (const decoded of entries) {
      if (decoded.kind !== "command") continue;
      for (const request of decoded.command.requests) {
        if (request.cmd?.$case === "compareAndSwap")
          keys.set(overlayKey(request.cmd.value.key), request.cmd.value.key);
      }
    }
    const reads = new Map<string, Uint8Array | undefined>();
    if (keys.size === 0) return reads;
    const values = await rawBatchGet(this.context.engines.kvEngine.db, [...keys.values()]);
    let position = 0;
    for (const name of keys.keys()) reads.set(name, values[position++]);
    return reads;
  }

  private finishApply(turn: Turn, peer: Peer, state: ApplyState, applied: readonly AppliedEntry[]): void {
    const previousRegion = peer.region;
    peer.applied(turn, state);
    for (const entry of applied) {
      this.answerProposal(turn, peer, entry);
      if (entry.effect !== undefined) this.applyEffect(turn, peer, entry.effect, previousRegion);
    }
    if (peer.initialized && peer.region !== previousRegion) {
      this.context.meta.replaceRanges(turn, [previousRegion], [peer.region]);
      invalidateOutgoingSnapshot(this.context, turn, peer);
    }
    peer.reads.applied(peer.appliedIndex);
  }

  private answerProposal(turn: Turn, peer: Peer, entry: AppliedEntry): void {
    const { match, stale } = peer.takeProposals(turn, entry.index, entry.term);
    for (const proposal of stale) {
      proposal.fail(new StaleCommandError(peer.regionId, "another leader's entry replaced it"));
    }
    this.context.metrics.staleCommands.inc(stale.length);
    if (match === undefined) return;
    if (match.id !== entry.proposalId) {
      throw new ProposalInvariantError(
        `region ${peer.regionId}: entry (${entry.index}, ${entry.term}) carries proposal ${entry.proposalId}, expected ${match.id}`,
      );
    }
    match.answer(entry.outcome);
  }

  private applyEffect(turn: Turn, peer: Peer, effect: ApplyEffect, previousRegion: metapb.Region): void {
    switch (effect.kind) {
      case "conf-change":
        this.onConfChangeApplied(turn, peer, effect);
        return;
      case "split":
        this.onSplitApplied(turn, peer, effect, previousRegion);
        return;
      case "compact-log":
        peer.compactLog(turn, effect.compactIndex);
        this.logGcPending.add(peer);
        this.context.metrics.logCompactions.inc();
        return;
      default:
        effect satisfies never;
    }
  }

  private onConfChangeApplied(
    turn: Turn,
    peer: Peer,
    effect: Extract<ApplyEffect, { kind: "conf-change" }>,
  ): void {
    const expected = effect.region;
    const confState = peer.applyConfChange(turn, effect.change, expected);
    const selfRemoved = findPeerOnStore(expected, this.context.storeId)?.id !== peer.meta.id;
    if (!sameConfState(confState, confStateOfRegion(expected))) {
      throw new StoreLoopInvariantError(
        `region ${peer.regionId}: raft configuration ${JSON.stringify(confState)} differs from the region's peers`,
      );
    }
    if (selfRemoved) requestDestroy(this.context, turn, peer, "removed by a conf change");
    this.context.regionChanged(peer.regionId);
  }

  private onSplitApplied(
    turn: Turn,
    parent: Peer,
    effect: Extract<ApplyEffect, { kind: "split" }>,
    previousRegion: metapb.Region,
  ): void {
    const { meta, metrics } = this.context;
    meta.replaceRanges(turn, [previousRegion], [effect.regions[0]!]);
    const created: bigint[] = [];
    for (const region of effect.created) {
      const peer = this.createSplitPeer(turn, parent, region);
      if (peer !== undefined) created.push(region.id);
    }
    metrics.splits.inc();
    metrics.regions.set(meta.peerCount);
    for (const region of effect.regions) this.context.regionChanged(region.id);
    for (const vote of meta.takeVotesFor(turn, new Set(created))) routeRaftMessage(this.context, turn, vote);
    if (parent.isLeader) this.reportSplit(parent.regionId, effect.regions);
  }

  private reportSplit(regionId: bigint, regions: readonly metapb.Region[]): void {
    const { scope, pd, logger } = this.context;
    const spawned = scope.spawn(`report split of region ${regionId}`, async () => {
      try {
        await pd.reportBatchSplit(regions);
      } catch (error) {
        // pd learns the new regions from their leaders' heartbeats as well; the report only speeds it up.
        logger.warn({ regionId, err: error }, "reporting a split to pd failed");
      }
    });
    if (!spawned) logger.info({ regionId }, "store closing: split not reported to pd");
  }

  private createSplitPeer(turn: Turn, parent: Peer, region: metapb.Region): Peer | undefined {
    const { meta, storeId } = this.context;
    const self = findPeerOnStore(region, storeId);
    const existing = meta.peer(region.id);
    if (self === undefined || existing?.initialized === true) {
      this.context.logger.warn({ regionId: region.id }, "split region already exists here; not recreated");
      return undefined;
    }
    // An uninitialized peer created by an early vote for the new region: it holds no data, only the
    // votes it cast, which the new peer keeps.
    const base = initialRaftState();
    const earlier = existing?.hardState;
    const hardState =
      earlier !== undefined && earlier.term > base.hardState.term
        ? { ...base.hardState, term: earlier.term, vote: earlier.vote }
        : base.hardState;
    if (existing !== undefined) {
      existing.markDestroyed(turn, "replaced by the split's peer");
      meta.removePeer(turn, existing);
      existing.failProposals(() => new StaleCommandError(region.id, "replaced by the split's peer"));
      existing.reads.failAll(() => new StaleCommandError(region.id, "replaced by the split's peer"));
    }
    const peer = new Peer(
      {
        region,
        meta: self,
        initialized: true,
        raftState: { hardState, lastIndex: base.lastIndex },
        entries: [],
        appliedIndex: base.lastIndex,
        truncatedIndex: base.lastIndex,
        truncatedTerm: base.hardState.term,
      },
      this.context,
      turn.nowMs,
    );
    meta.addPeer(turn, peer);
    this.initialRaftStates.add(peer);
    this.context.metrics.peersCreated.inc();
    // The parent's leader is most likely to win: its store has applied the split first.
    if (parent.isLeader) peer.mailbox.push({ kind: "campaign" });
    this.wake(peer);
    return peer;
  }

  // ---- 9. after apply -------------------------------------------------------------------------------------

  private finishReady(turn: Turn, peer: Peer, ready: Ready): void {
    if (peer.destroyed) return;
    for (const readState of ready.readStates) {
      peer.reads.confirmed(readState.requestContext, readState.index, peer.appliedIndex);
    }
    peer.advance(turn, ready);
    if (peer.hasReady() || peer.mailbox.length > 0) this.active.add(peer);
  }

  private async destroyRemovedPeers(
    turn: Turn,
    peers: readonly Peer[],
    readys: readonly PeerReady[],
    outbox: Outbox,
  ): Promise<void> {
    const doomed = new Set<Peer>();
    const isDoomed = (peer: Peer) => peer.lifecycle.kind === "pending-destroy" && !this.installs.has(peer);
    for (const peer of peers) if (isDoomed(peer)) doomed.add(peer);
    for (const { peer } of readys) if (isDoomed(peer)) doomed.add(peer);
    for (const peer of doomed) {
      // A removed leader hands over with MsgTimeoutNow; let it out before the peer goes.
      if (peer.hasReady()) this.queueMessages(turn, peer, peer.ready(turn).messages, outbox);
      await destroyPeer(this.context, turn, peer);
      this.active.delete(peer);
    }
  }

  private afterTurn(turn: Turn, peers: readonly Peer[]): void {
    for (const peer of this.snapshotsStepped) if (peer.isGoingAway) this.snapshotsStepped.delete(peer);
    for (const peer of peers) {
      if (peer.isGoingAway) continue;
      if (peer.hasReady() || peer.mailbox.length > 0) this.active.add(peer);
      if (peer.snapshotWanted) startSnapshotGeneration(this.context, turn, peer);
      if (!this.tickedThisTurn.has(peer)) continue;
      peer.reads.expire(turn.nowMs, () => new ReadIndexNotReadyError(peer.regionId, "no read index in time"));
      expireOutgoingSnapshot(this.context, turn, peer);
      checkStalePeer(this.context, turn, peer);
    }
    this.tickedThisTurn.clear();
  }

  private runPeriodicJobs(turn: Turn): void {
    const { config, meta } = this.context;
    if (turn.nowMs - this.lastLogGcMs >= config.raftLogGcTickMs) {
      this.lastLogGcMs = turn.nowMs;
      for (const peer of meta.peers()) this.maybeCompactLog(peer);
    }
    if (turn.nowMs - this.lastSplitCheckMs >= config.splitCheckTickMs) {
      this.lastSplitCheckMs = turn.nowMs;
      for (const peer of meta.peers()) checkSplit(this.context, turn, peer);
    }
  }

  private maybeCompactLog(peer: Peer): void {
    const compactIndex = compactLogTarget(peer, this.context.config);
    if (compactIndex === undefined || compactIndex <= peer.log.truncatedIndex) return;
    const admin: raft_cmdpb.AdminRequest = {
      cmd: {
        $case: "compactLog",
        value: { compactIndex: BigInt(compactIndex), compactTerm: BigInt(peer.log.term(compactIndex)) },
      },
    };
    const { scope, logger } = this.context;
    scope.spawn(`compact log of region ${peer.regionId}`, async () => {
      try {
        await submitCommand(this.context, peer, { kind: "admin", admin }, NO_EPOCH_CHECK);
      } catch (error) {
        // Leadership or the region changed meanwhile, or the store is busy: the next GC tick tries again.
        if (!(error instanceof RegionError)) throw error;
        logger.debug({ regionId: peer.regionId, err: error }, "log compaction not proposed");
      }
    });
  }
}

/** An error a queued store change throws to refuse its caller, not a fault of the loop. */
function isRefusal(error: unknown): error is Error {
  return error instanceof RegionError || (error instanceof Error && error.name === "SnapshotRefusedError");
}
