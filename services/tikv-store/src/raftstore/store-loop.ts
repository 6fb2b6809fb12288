/**
 * The batch system (TiKV's, adapted to one Node thread). Work for regions accumulates in their mailboxes;
 * one turn, scheduled with setImmediate, handles every region with work at once:
 *
 *   1. inputs: raft messages and reports, due ticks, then proposals and read requests;
 *   2. every region's Ready;
 *   3. messages that may leave before persistence (a leader's appends and heartbeats) go out, and the
 *      turn yields once so they are on the wire before the fsync;
 *   4. snapshots raft accepted are installed;
 *   5. ALL regions' entries and hard states go into ONE raft engine batch with ONE sync;
 *   6. onPersisted, then the messages that promise durable state (votes, append responses);
 *   7. ALL regions' committed entries apply in ONE kv batch (apply state in the same batch; not synced,
 *      the synced raft log replays it), then proposers and readers are answered;
 *   8. advance; destroyed peers are torn down; snapshots are generated; periodic jobs run.
 *
 * Only one turn runs at a time, and only turns touch raft state or in-memory region state, so everything
 * a turn does is serialized. The one engine writer besides turns is a snapshot install, confined to its
 * region's keys, which no turn writes meanwhile. Any failure inside a turn or an install is fatal: the
 * store stops rather than continue with engines and raft state that may disagree.
 */
import type { metapb, raft_cmdpb } from "#proto";
import {
  type Entry,
  InvalidConfChangeError,
  type Message,
  MessageType,
  ProposalDroppedError,
  type Ready,
  Role,
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
import { checkStalePeer, destroyPeer, routeRaftMessage } from "./peer-lifecycle.ts";
import type { PeerTask, PendingCommand } from "./peer-mailbox.ts";
import {
  adoptInstalledSnapshot,
  discardIncomingSnapshot,
  expireOutgoingSnapshot,
  installSnapshot,
  invalidateOutgoingSnapshot,
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
  ServerIsBusyError,
  StaleCommandError,
} from "./region-errors.ts";
import { confStateOfRegion, findPeerOnStore, sameConfState } from "./region-meta.ts";
import { checkSplit } from "./split-checker.ts";
import type { StoreContext } from "./store-context.ts";
import { submitCommand } from "./submit-command.ts";

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

/** Runs the loop's next turn later (never synchronously): setImmediate, or a simulation's scheduler. */
export type TurnScheduler = (turn: () => void) => void;

export const immediateTurnScheduler: TurnScheduler = (turn) => {
  setImmediate(turn);
};

export class StoreLoopInvariantError extends Error {
  override readonly name = "StoreLoopInvariantError";
}

export class StoreLoop {
  private readonly active = new Set<Peer>();
  /** Split peers whose initial raft state goes into the next raft batch. */
  private readonly initialRaftStates = new Set<Peer>();
  /** Peers whose truncated log entries wait to be deleted from the raft engine. */
  private readonly logGcPending = new Set<Peer>();
  /** Snapshots installing in the background, by peer. */
  private readonly installs = new Map<Peer, SnapshotInstall>();
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
    context.wake = (peer) => this.wake(peer);
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

  start(): void {
    this.tickTimer = this.context.timers.setInterval(() => {
      this.tickDue = true;
      this.schedule();
    }, this.context.config.baseTickMs);
  }

  wake(peer: Peer): void {
    if (this.closed || this.failure !== undefined) return;
    this.active.add(peer);
    this.schedule();
  }

  /** Stops scheduling turns and waits for the one in progress and for snapshots being installed. */
  async close(): Promise<void> {
    this.closed = true;
    this.tickTimer?.cancel();
    await this.running;
    await Promise.all([...this.installs.values()].map((install) => install.settled));
  }

  private schedule(): void {
    if (this.scheduled || this.running !== undefined || this.closed || this.failure !== undefined) return;
    this.scheduled = true;
    this.scheduleTurn(() => {
      this.scheduled = false;
      if (this.closed || this.failure !== undefined) return;
      this.running = this.runTurn().finally(() => {
        this.running = undefined;
        if (this.active.size > 0 || this.tickDue) this.schedule();
      });
    });
  }

  private async runTurn(): Promise<void> {
    const started = this.context.clock.monotonicMs();
    try {
      await this.turn(started);
    } catch (error) {
      this.failure = error instanceof Error ? error : new Error(String(error));
      this.context.logger.fatal({ err: this.failure }, "store loop failed; the store stops");
      this.onFatal(this.failure);
      return;
    }
    this.context.metrics.turnDuration.observe((this.context.clock.monotonicMs() - started) / 1000);
  }

  private async turn(nowMs: number): Promise<void> {
    this.turnNumber++;
    const ticks = this.takeTicks(nowMs);
    const peers = this.takePeers(ticks > 0);
    const resumed = this.takeInstalledSnapshots();
    const waiting = (peer: Peer): boolean => this.installs.has(peer) || resumed.has(peer);
    for (const peer of peers) if (!waiting(peer)) this.handleInputs(peer, ticks, nowMs);
    const collected = this.collectReadys(peers.filter((peer) => !waiting(peer)));
    const outbox = new Outbox();
    for (const { peer, ready } of collected) {
      if (ready.softState !== undefined) this.onSoftState(peer, ready);
      this.queueMessages(peer, ready.messages, outbox);
    }
    const sentEarly = outbox.size > 0;
    outbox.flush(this.context.transport);
    const readys = [...resumed.values(), ...this.startSnapshotInstalls(collected)];
    // gRPC's HTTP/2 frames leave the process only when the event loop gets past this task, and the synced
    // write below blocks the thread: without a yield, followers would receive the appends only after the
    // leader's fsync, putting two fsyncs in a row on every write's path instead of two side by side.
    if (sentEarly) await new Promise<void>((resume) => this.scheduleTurn(resume));
    await this.persist(readys);
    for (const { peer, ready } of readys) {
      peer.rawNode.onPersisted(ready.number);
      this.queueMessages(peer, ready.persistedMessages, outbox);
    }
    outbox.flush(this.context.transport);
    await this.apply(readys);
    for (const { peer, ready } of readys) this.finishReady(peer, ready);
    await this.destroyRemovedPeers(peers, readys, outbox);
    outbox.flush(this.context.transport);
    this.afterTurn(peers, ticks > 0, nowMs);
  }

  // ---- 1. inputs -------------------------------------------------------------------------------------------

  private takeTicks(nowMs: number): number {
    if (!this.tickDue) return 0;
    this.tickDue = false;
    const tickMs = this.context.config.baseTickMs;
    const elapsed = Math.floor((nowMs - this.lastTickMs) / tickMs);
    if (elapsed <= 0) return 0;
    this.lastTickMs += elapsed * tickMs;
    return Math.min(elapsed, MAX_TICKS_PER_TURN_FACTOR * this.context.config.electionTicks);
  }

  private takePeers(allPeers: boolean): Peer[] {
    const peers = allPeers ? [...this.context.meta.peers.values()] : [];
    if (!allPeers) for (const peer of this.active) peers.push(peer);
    else for (const peer of this.active) if (!this.context.meta.peers.has(peer.regionId)) peers.push(peer);
    this.active.clear();
    return peers;
  }

  private handleInputs(peer: Peer, ticks: number, nowMs: number): void {
    if (peer.destroyed || peer.pendingDestroy !== undefined) return;
    const clientWork: PeerTask[] = [];
    for (const task of peer.mailbox.takeAll()) {
      if (task.kind === "command" || task.kind === "read-index") clientWork.push(task);
      else this.handleRaftTask(peer, task, nowMs);
    }
    for (let tick = 0; tick < ticks; tick++) peer.rawNode.tick();
    // Proposals go last: nothing after them in this turn may change the log, so each one's (index, term)
    // is exactly where the leader appended it.
    for (const task of clientWork) {
      if (task.kind === "command") this.propose(peer, task.command);
      else if (task.kind === "read-index") this.askReadIndex(peer, task.read);
    }
  }

  private handleRaftTask(peer: Peer, task: PeerTask, nowMs: number): void {
    const raw = peer.rawNode;
    switch (task.kind) {
      case "raft":
        this.step(peer, task.message, nowMs);
        return;
      case "unreachable":
        raw.reportUnreachable(task.to);
        return;
      case "snapshot-status":
        raw.reportSnapshot(task.to, task.status);
        return;
      case "transfer-leader":
        raw.transferLeader(task.to);
        return;
      case "campaign":
        raw.campaign();
        return;
      case "command":
      case "read-index":
        throw new StoreLoopInvariantError(`client task ${task.kind} routed as a raft task`);
      default:
        task satisfies never;
    }
  }

  private step(peer: Peer, message: Message, nowMs: number): void {
    try {
      peer.rawNode.step(message);
    } catch (error) {
      if (!(error instanceof StepLocalMessageError)) throw error;
      this.context.metrics.raftMessagesDropped.inc({ reason: "unexpected_type" });
      return;
    }
    const fromLeader =
      message.type === MessageType.Append ||
      message.type === MessageType.Heartbeat ||
      message.type === MessageType.Snapshot;
    if (fromLeader) peer.lastLeaderSeenMs = nowMs;
    if (peer.isLeader) peer.peerLastHeardMs.set(message.from, nowMs);
  }

  private propose(peer: Peer, command: PendingCommand): void {
    const { proposal } = command;
    const { metrics, meta } = this.context;
    // The raw node is the authority: it may have stepped down while stepping this turn's messages, and a
    // follower would forward the proposal instead of appending it.
    if (peer.rawNode.leaderId !== peer.nodeId) {
      metrics.proposalsDropped.inc({ reason: "not_leader" });
      proposal.fail(new NotLeaderError(peer.regionId, peer.leaderPeer()));
      return;
    }
    if (epochMismatch(command.epoch, peer.region, command.epochCheck)) {
      metrics.proposalsDropped.inc({ reason: "epoch" });
      proposal.fail(new EpochNotMatchError(peer.regionId, command.epoch, meta.currentRegions(peer.region)));
      return;
    }
    try {
      peer.propose(proposal, command.data, command.confChange);
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
    return new NotLeaderError(peer.regionId, peer.peerCache.get(error.leaderId));
  }

  private askReadIndex(peer: Peer, read: PendingRead): void {
    if (peer.rawNode.leaderId === 0) {
      read.fail(new NotLeaderError(peer.regionId, undefined));
      return;
    }
    peer.rawNode.readIndex(read.context);
    peer.reads.askedRaft(read);
  }

  // ---- 2. and 3. readys and messages ------------------------------------------------------------------------

  private collectReadys(peers: readonly Peer[]): PeerReady[] {
    const readys: PeerReady[] = [];
    for (const peer of peers) {
      if (peer.destroyed || peer.pendingDestroy !== undefined || !peer.rawNode.hasReady()) continue;
      const ready = peer.rawNode.ready();
      peer.checkProposalsAppended(ready.entries);
      readys.push({ peer, ready });
    }
    this.context.metrics.regionsPerTurn.observe(readys.length);
    return readys;
  }

  private onSoftState(peer: Peer, ready: Ready): void {
    const previousLeader = peer.leaderId;
    const previousRole = peer.role;
    const steppedDown = peer.onSoftState(ready.softState!);
    const { metrics, meta } = this.context;
    if (steppedDown) {
      const count = peer.failProposals(
        () => new StaleCommandError(peer.regionId, "the proposer stopped leading before the command applied"),
      );
      metrics.staleCommands.inc(count);
      peer.reads.failUnconfirmed(() => new NotLeaderError(peer.regionId, peer.leaderPeer()));
    }
    if (peer.isLeader && previousRole !== Role.Leader) {
      peer.peerLastHeardMs.clear();
      peer.leaderSinceMs = this.context.clock.monotonicMs();
    }
    metrics.leaders.set(meta.leaderCount());
    if (previousLeader !== peer.leaderId) this.context.regionChanged(peer.regionId);
  }

  private queueMessages(peer: Peer, messages: readonly Message[], outbox: Outbox): void {
    for (const message of messages) {
      if (message.type === MessageType.Snapshot) {
        sendSnapshotMessage(this.context, peer, message);
        continue;
      }
      const toPeer = peer.peerCache.get(message.to);
      if (toPeer === undefined) {
        this.context.logger.warn({ regionId: peer.regionId, to: message.to }, "no address for raft peer");
        continue;
      }
      outbox.add(toPeer.storeId, envelopeOf(peer, message, toPeer));
    }
  }

  // ---- 4. snapshots -------------------------------------------------------------------------------------

  /** Sets aside the Readys that carry a snapshot, installing it in the background; returns the rest. */
  private startSnapshotInstalls(readys: readonly PeerReady[]): PeerReady[] {
    const rest: PeerReady[] = [];
    for (const peerReady of readys) {
      const { peer, ready } = peerReady;
      if (ready.snapshot === undefined) {
        rest.push(peerReady);
        continue;
      }
      const started = installSnapshot(this.context, peer, ready.snapshot, ready.hardState);
      const install: SnapshotInstall = {
        ready,
        settled: started.then(
          (applied) => {
            install.applied = applied;
          },
          (error: unknown) => {
            install.failure = error instanceof Error ? error : new Error(String(error));
          },
        ),
      };
      void install.settled.then(() => this.wake(peer));
      this.installs.set(peer, install);
    }
    return rest;
  }

  /** Peers whose snapshot is installed, with the Ready that waited for it. A failed install is fatal. */
  private takeInstalledSnapshots(): Map<Peer, PeerReady> {
    const resumed = new Map<Peer, PeerReady>();
    for (const [peer, install] of this.installs) {
      if (install.failure !== undefined) throw install.failure;
      if (install.applied === undefined) continue;
      this.installs.delete(peer);
      adoptInstalledSnapshot(this.context, peer, install.applied);
      resumed.set(peer, { peer, ready: install.ready });
    }
    return resumed;
  }

  // ---- 5. persist ----------------------------------------------------------------------------------------

  private async persist(readys: readonly PeerReady[]): Promise<void> {
    const { raftLogStore } = this.context.engines;
    const batch = new WriteBatch();
    this.addLogGc(batch);
    for (const peer of this.initialRaftStates) {
      if (!peer.destroyed) raftLogStore.putRaftState(batch, peer.regionId, initialRaftState());
    }
    this.initialRaftStates.clear();
    let sync = false;
    let entries = 0;
    for (const { peer, ready } of readys) {
      if (ready.entries.length === 0 && ready.hardState === undefined && ready.snapshot === undefined)
        continue;
      const lastIndex = raftLogStore.appendEntries(
        batch,
        peer.regionId,
        ready.entries,
        peer.storage.lastIndex(),
      );
      const hardState = ready.hardState ?? peer.storage.hardState;
      raftLogStore.putRaftState(batch, peer.regionId, { hardState, lastIndex });
      sync ||= ready.mustSync;
      entries += ready.entries.length;
    }
    if (batch.operationCount > 0) await this.writeRaftBatch(batch, sync, entries);
    for (const { peer, ready } of readys) {
      peer.storage.append(ready.entries);
      if (ready.hardState !== undefined) {
        peer.storage.hardState = ready.hardState;
        peer.term = ready.hardState.term;
      }
    }
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
  private addLogGc(batch: WriteBatch): void {
    for (const peer of this.logGcPending) {
      if (peer.destroyed || peer.pendingLogDeleteBefore <= peer.firstStoredIndex) continue;
      this.context.engines.raftLogStore.deleteEntriesBefore(
        batch,
        peer.regionId,
        peer.pendingLogDeleteBefore,
        peer.firstStoredIndex,
      );
      peer.firstStoredIndex = peer.pendingLogDeleteBefore;
    }
    this.logGcPending.clear();
  }

  // ---- 7. apply -------------------------------------------------------------------------------------------

  private async apply(readys: readonly PeerReady[]): Promise<void> {
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
    const turn = new ApplyTurn(batch, casReads, {
      currentRegions: (region) => meta.currentRegions(region),
      isTombstoned: (regionId) => meta.tombstones.has(regionId),
    });
    const results = work.map(({ peer, decoded }) => {
      const state = peer.applyState();
      const applied = applyEntries(turn, state, decoded, (index) => peer.storage.term(index));
      metrics.appliedEntries.inc(decoded.length);
      return { peer, state, applied };
    });
    await engines.kvEngine.write(batch, { sync: turn.syncRequired });
    metrics.applyWriteBatchBytes.observe(batch.approximateSizeBytes);
    for (const { peer, state, applied } of results) this.finishApply(peer, state, applied);
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

  private finishApply(peer: Peer, state: ApplyState, applied: readonly AppliedEntry[]): void {
    const previousRegion = peer.region;
    peer.region = state.region;
    peer.appliedIndex = state.appliedIndex;
    peer.appliedTerm = state.appliedTerm;
    peer.writtenBytes = state.writtenBytes;
    peer.writtenKeys = state.writtenKeys;
    for (const entry of applied) {
      this.answerProposal(peer, entry);
      if (entry.effect !== undefined) this.applyEffect(peer, entry.effect, previousRegion);
    }
    // The range index hands out these region objects (EpochNotMatch), so it must hold the current ones.
    if (peer.initialized && peer.region !== previousRegion) {
      this.context.meta.ranges.replace([previousRegion], [peer.region]);
      invalidateOutgoingSnapshot(peer);
    }
    peer.reads.applied(peer.appliedIndex);
  }

  private answerProposal(peer: Peer, entry: AppliedEntry): void {
    const { match, stale } = peer.proposals.take(entry.index, entry.term);
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

  private applyEffect(peer: Peer, effect: ApplyEffect, previousRegion: metapb.Region): void {
    switch (effect.kind) {
      case "conf-change":
        this.onConfChangeApplied(peer, effect);
        return;
      case "split":
        this.onSplitApplied(peer, effect, previousRegion);
        return;
      case "compact-log":
        peer.storage.compactTo(effect.compactIndex);
        peer.pendingLogDeleteBefore = effect.compactIndex + 1;
        this.logGcPending.add(peer);
        this.context.metrics.logCompactions.inc();
        return;
      default:
        effect satisfies never;
    }
  }

  private onConfChangeApplied(peer: Peer, effect: Extract<ApplyEffect, { kind: "conf-change" }>): void {
    const confState = peer.rawNode.applyConfChange(effect.change);
    const expected = effect.region;
    peer.storage.confState = confState;
    peer.rememberPeers(expected);
    const selfRemoved = findPeerOnStore(expected, this.context.storeId)?.id !== peer.meta.id;
    if (!sameConfState(confState, confStateOfRegion(expected))) {
      throw new StoreLoopInvariantError(
        `region ${peer.regionId}: raft configuration ${JSON.stringify(confState)} differs from the region's peers`,
      );
    }
    if (selfRemoved) peer.pendingDestroy = "removed by a conf change";
    this.context.regionChanged(peer.regionId);
  }

  private onSplitApplied(
    parent: Peer,
    effect: Extract<ApplyEffect, { kind: "split" }>,
    previousRegion: metapb.Region,
  ): void {
    const { meta, metrics } = this.context;
    meta.ranges.replace([previousRegion], [effect.regions[0]!]);
    const created: bigint[] = [];
    for (const region of effect.created) {
      const peer = this.createSplitPeer(parent, region);
      if (peer !== undefined) created.push(region.id);
    }
    metrics.splits.inc();
    metrics.regions.set(meta.peers.size);
    for (const region of effect.regions) this.context.regionChanged(region.id);
    for (const vote of meta.takeVotesFor(new Set(created))) routeRaftMessage(this.context, vote);
    if (parent.isLeader) {
      this.context.pd.reportBatchSplit(effect.regions).catch((error: unknown) => {
        this.context.logger.warn({ regionId: parent.regionId, err: error }, "reporting a split to pd failed");
      });
    }
  }

  private createSplitPeer(parent: Peer, region: metapb.Region): Peer | undefined {
    const { meta, storeId, clock } = this.context;
    const self = findPeerOnStore(region, storeId);
    const existing = meta.peers.get(region.id);
    if (self === undefined || existing?.initialized === true) {
      this.context.logger.warn({ regionId: region.id }, "split region already exists here; not recreated");
      return undefined;
    }
    // An uninitialized peer created by an early vote for the new region: it holds no data, only the
    // votes it cast, which the new peer keeps.
    const base = initialRaftState();
    const earlier = existing?.storage.hardState;
    const hardState =
      earlier !== undefined && earlier.term > base.hardState.term
        ? { ...base.hardState, term: earlier.term, vote: earlier.vote }
        : base.hardState;
    if (existing !== undefined) {
      existing.destroyed = true;
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
      clock.monotonicMs(),
    );
    meta.peers.set(region.id, peer);
    meta.ranges.replace([], [region]);
    this.initialRaftStates.add(peer);
    this.context.metrics.peersCreated.inc();
    // The parent's leader is most likely to win: its store has applied the split first.
    if (parent.isLeader) peer.mailbox.push({ kind: "campaign" });
    this.wake(peer);
    return peer;
  }

  // ---- 8. after apply -------------------------------------------------------------------------------------

  private finishReady(peer: Peer, ready: Ready): void {
    if (peer.destroyed) return;
    for (const readState of ready.readStates) {
      peer.reads.confirmed(readState.requestContext, readState.index, peer.appliedIndex);
    }
    peer.rawNode.advance(ready);
    if (peer.rawNode.hasReady() || peer.mailbox.length > 0) this.active.add(peer);
  }

  private async destroyRemovedPeers(
    peers: readonly Peer[],
    readys: readonly PeerReady[],
    outbox: Outbox,
  ): Promise<void> {
    const doomed = new Set<Peer>();
    // A peer whose snapshot is being installed goes once the install is done and its Ready handled.
    const isDoomed = (peer: Peer) =>
      peer.pendingDestroy !== undefined && !peer.destroyed && !this.installs.has(peer);
    for (const peer of peers) if (isDoomed(peer)) doomed.add(peer);
    for (const { peer } of readys) if (isDoomed(peer)) doomed.add(peer);
    for (const peer of doomed) {
      // A removed leader hands over with MsgTimeoutNow; let it out before the peer goes.
      if (peer.rawNode.hasReady()) this.queueMessages(peer, peer.rawNode.ready().messages, outbox);
      discardIncomingSnapshot(this.context, peer);
      await destroyPeer(this.context, peer);
      this.active.delete(peer);
    }
  }

  private afterTurn(peers: readonly Peer[], ticked: boolean, nowMs: number): void {
    for (const peer of peers) {
      if (peer.destroyed) continue;
      if (peer.snapshotWanted) startSnapshotGeneration(this.context, peer);
      if (peer.incomingSnapshot !== undefined && !this.context.meta.pendingSnapshots.has(peer.regionId)) {
        discardIncomingSnapshot(this.context, peer);
      }
      if (!ticked) continue;
      peer.reads.expire(nowMs, () => new ReadIndexNotReadyError(peer.regionId, "no read index in time"));
      expireOutgoingSnapshot(this.context, peer, nowMs);
      checkStalePeer(this.context, peer, nowMs);
    }
    if (ticked) this.runPeriodicJobs(nowMs);
  }

  private runPeriodicJobs(nowMs: number): void {
    const { config, meta } = this.context;
    if (nowMs - this.lastLogGcMs >= config.raftLogGcTickMs) {
      this.lastLogGcMs = nowMs;
      for (const peer of meta.peers.values()) this.maybeCompactLog(peer);
    }
    if (nowMs - this.lastSplitCheckMs >= config.splitCheckTickMs) {
      this.lastSplitCheckMs = nowMs;
      for (const peer of meta.peers.values()) checkSplit(this.context, peer);
    }
  }

  private maybeCompactLog(peer: Peer): void {
    const compactIndex = compactLogTarget(peer, this.context.config);
    if (compactIndex === undefined || compactIndex <= peer.storage.truncatedIndex) return;
    const admin: raft_cmdpb.AdminRequest = {
      cmd: {
        $case: "compactLog",
        value: { compactIndex: BigInt(compactIndex), compactTerm: BigInt(peer.storage.term(compactIndex)) },
      },
    };
    submitCommand(this.context, peer, { kind: "admin", admin }, NO_EPOCH_CHECK).catch(() => {
      // Best effort: the next GC tick tries again.
    });
  }
}
