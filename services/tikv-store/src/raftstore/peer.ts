/**
 * One region's replica on this store: its raft group (RawNode over PeerStorage), its region meta as of
 * the applied index, its lifecycle, its mailbox, and the proposals and reads waiting on it.
 *
 * Ownership: every field is private. Anyone may read a peer (requests check its region and leadership)
 * and queue work in its mailbox; only the store loop changes it, through methods that take the turn's
 * capability (turn.ts). Background work for a peer (a split check, a snapshot generation) never changes
 * the peer itself: it posts its result to the mailbox and the next turn takes it in. Nothing here does I/O.
 */
import type { Logger } from "#observability";
import type { metapb } from "#proto";
import {
  type ConfChange,
  type ConfState,
  type Entry,
  type HardState,
  type Message,
  NONE,
  type NodeId,
  type RaftConfig,
  RawNode,
  type Ready,
  Role,
  type SoftState,
  type Status,
} from "#raft";
import type { Random } from "#runtime";
import type { RaftState } from "../engine/raft-log-store.ts";
import type { ApplyState } from "./apply.ts";
import { checkTransition, holdsData, type PeerLifecycle } from "./peer-lifecycle-state.ts";
import { PeerMailbox } from "./peer-mailbox.ts";
import type { IncomingSnapshot, OutgoingSnapshot } from "./peer-snapshot.ts";
import { PeerStorage } from "./peer-storage.ts";
import { type Proposal, ProposalQueue } from "./proposal.ts";
import type { RaftstoreConfig } from "./raftstore-config.ts";
import { PeerReads } from "./read-path.ts";
import { confStateOfRegion, epochOf, peerIdToNode } from "./region-meta.ts";
import type { Turn } from "./turn.ts";

export class PeerInvariantError extends Error {
  override readonly name = "PeerInvariantError";
}

export interface PeerEnvironment {
  readonly config: RaftstoreConfig;
  readonly random: Random;
  readonly logger: Logger;
}

export interface PeerInit {
  /** For an uninitialized peer: the region id with no range and no peers (learned from a snapshot). */
  readonly region: metapb.Region;
  readonly meta: metapb.Peer;
  readonly initialized: boolean;
  readonly raftState: RaftState;
  /** The entries (truncatedIndex, raftState.lastIndex]. */
  readonly entries: readonly Entry[];
  readonly appliedIndex: number;
  readonly truncatedIndex: number;
  readonly truncatedTerm: number;
}

/** Background work a peer has at most one of each at a time. */
export type PeerJob = "split-check" | "stale-check" | "snapshot-generation";

/** The raft log as readers may see it. */
export type PeerLogView = Pick<
  PeerStorage,
  "term" | "firstIndex" | "lastIndex" | "truncatedIndex" | "truncatedTerm" | "entryCount" | "sizeBytes"
>;

/** The region's size as last measured by a split check (zero until one ran). */
export interface RegionSize {
  readonly approximateSizeBytes: number;
  readonly approximateKeys: number;
  readonly measured: boolean;
}

const UNMEASURED: RegionSize = { approximateSizeBytes: 0, approximateKeys: 0, measured: false };

export class Peer {
  readonly regionId: bigint;
  readonly meta: metapb.Peer;
  readonly nodeId: NodeId;
  readonly mailbox: PeerMailbox;
  private regionValue: metapb.Region;
  private lifecycleValue: PeerLifecycle;
  private readonly storage: PeerStorage;
  private readonly rawNode: RawNode;
  private readonly proposals = new ProposalQueue();
  private readonly readsValue = new PeerReads();
  private appliedIndexValue: number;
  private appliedTermValue: number;
  private leaderIdValue: NodeId = NONE;
  private roleValue: Role = Role.Follower;
  private termValue: number;
  /** Every peer this region ever had while this peer knew it, so messages to removed peers still route. */
  private readonly peerCache = new Map<NodeId, metapb.Peer>();
  private readonly jobs = new Set<PeerJob>();
  /** Incremented when a snapshot replaces the data, so readers started before notice. */
  private dataGenerationValue = 0;
  /** Raft asked storage for a snapshot to send; the loop starts generating one after the turn's apply. */
  private snapshotWantedValue = false;
  private outgoing: OutgoingSnapshot | undefined;
  private incoming: IncomingSnapshot | undefined;
  private leaderSinceMsValue = 0;
  /** On the leader: when each member was last heard from (monotonic ms), for pd's down peers. */
  private readonly peerLastHeardMs = new Map<NodeId, number>();
  /** When this peer last knew a leader (monotonic ms), for stale peer detection. */
  private lastLeaderSeenMsValue: number;
  private writtenBytesValue = 0;
  private writtenKeysValue = 0;
  private sizeValue: RegionSize = UNMEASURED;
  /** Raft log entries before this index wait to be deleted from the raft engine (log GC). */
  private pendingLogDeleteBeforeValue = 0;
  /** Entries still in the raft engine from this index on (what the next log GC deletes from). */
  private firstStoredIndexValue: number;
  /** Ticks due and not yet delivered (the loop may skip a peer in a busy turn). */
  private pendingTicksValue = 0;
  /** Numbering of the proposals accepted since the last Ready. */
  private proposedThisTurn = 0;
  private nextProposalIndex = 0;
  private proposalTerm = 0;

  constructor(init: PeerInit, environment: PeerEnvironment, nowMs: number) {
    this.regionId = init.region.id;
    this.meta = init.meta;
    this.nodeId = peerIdToNode(init.meta.id);
    this.regionValue = init.region;
    this.lifecycleValue = init.initialized ? { kind: "normal" } : { kind: "uninitialized" };
    this.mailbox = new PeerMailbox(environment.config.maxRegionMailbox);
    this.storage = new PeerStorage(
      {
        hardState: init.raftState.hardState,
        confState: init.initialized ? confStateOfRegion(init.region) : { voters: [], learners: [] },
        truncatedIndex: init.truncatedIndex,
        truncatedTerm: init.truncatedTerm,
        entries: init.entries,
      },
      {
        // Raft asks for a snapshot only while it steps or ticks, which only the loop does in a turn.
        onSnapshotWanted: () => {
          this.snapshotWantedValue = true;
        },
        currentEpoch: () => epochOf(this.regionValue),
      },
    );
    this.rawNode = new RawNode(
      raftConfig(this.nodeId, init.appliedIndex, environment, this.regionId),
      this.storage,
    );
    this.appliedIndexValue = init.appliedIndex;
    this.appliedTermValue = this.storage.term(init.appliedIndex);
    this.termValue = init.raftState.hardState.term;
    this.firstStoredIndexValue = init.truncatedIndex + 1;
    this.lastLeaderSeenMsValue = nowMs;
    this.rememberPeersOf(init.region);
    this.peerCache.set(this.nodeId, init.meta);
  }

  // ---- reading ---------------------------------------------------------------------------------------

  /** The region as of the applied index. */
  get region(): metapb.Region {
    return this.regionValue;
  }

  get lifecycle(): PeerLifecycle {
    return this.lifecycleValue;
  }

  /** Holds data for its range (created with data, or a snapshot arrived). */
  get initialized(): boolean {
    return holdsData(this.lifecycleValue);
  }

  get destroyed(): boolean {
    return this.lifecycleValue.kind === "destroyed";
  }

  /** Destroyed, or about to be: no request may use it. */
  get isGoingAway(): boolean {
    return this.lifecycleValue.kind === "destroyed" || this.lifecycleValue.kind === "pending-destroy";
  }

  get isApplyingSnapshot(): boolean {
    return this.lifecycleValue.kind === "applying-snapshot";
  }

  get isLeader(): boolean {
    return this.roleValue === Role.Leader;
  }

  get role(): Role {
    return this.roleValue;
  }

  get leaderId(): NodeId {
    return this.leaderIdValue;
  }

  /** The raft node's own idea of the leader (it may have changed since the last Ready). */
  get raftLeaderId(): NodeId {
    return this.rawNode.leaderId;
  }

  get term(): number {
    return this.termValue;
  }

  get appliedIndex(): number {
    return this.appliedIndexValue;
  }

  get appliedTerm(): number {
    return this.appliedTermValue;
  }

  get dataGeneration(): number {
    return this.dataGenerationValue;
  }

  get log(): PeerLogView {
    return this.storage;
  }

  get hardState(): HardState {
    return this.storage.hardState;
  }

  get reads(): PeerReads {
    return this.readsValue;
  }

  get size(): RegionSize {
    return this.sizeValue;
  }

  get writtenBytes(): number {
    return this.writtenBytesValue;
  }

  get writtenKeys(): number {
    return this.writtenKeysValue;
  }

  get leaderSinceMs(): number {
    return this.leaderSinceMsValue;
  }

  get lastLeaderSeenMs(): number {
    return this.lastLeaderSeenMsValue;
  }

  get snapshotWanted(): boolean {
    return this.snapshotWantedValue;
  }

  get outgoingSnapshot(): OutgoingSnapshot | undefined {
    return this.outgoing;
  }

  get incomingSnapshot(): IncomingSnapshot | undefined {
    return this.incoming;
  }

  get pendingLogDeleteBefore(): number {
    return this.pendingLogDeleteBeforeValue;
  }

  get firstStoredIndex(): number {
    return this.firstStoredIndexValue;
  }

  get pendingTicks(): number {
    return this.pendingTicksValue;
  }

  get pendingProposals(): number {
    return this.proposals.length;
  }

  hasJob(job: PeerJob): boolean {
    return this.jobs.has(job);
  }

  /** When the leader last heard from `node` (monotonic ms), or when it became leader. */
  lastHeardMs(node: NodeId): number {
    return this.peerLastHeardMs.get(node) ?? this.leaderSinceMsValue;
  }

  /** A peer of the region by raft node id, including removed ones this peer knew. */
  knownPeer(node: NodeId): metapb.Peer | undefined {
    return this.peerCache.get(node);
  }

  /** The leader as this peer knows it, with its store (undefined when unknown). */
  leaderPeer(): metapb.Peer | undefined {
    return this.leaderIdValue === NONE ? undefined : this.peerCache.get(this.leaderIdValue);
  }

  status(): Status {
    return this.rawNode.status();
  }

  leaseRemainingTicks(): number {
    return this.rawNode.leaseRemainingTicks();
  }

  hasReady(): boolean {
    return this.rawNode.hasReady();
  }

  // ---- lifecycle -------------------------------------------------------------------------------------

  private transition(turn: Turn, next: PeerLifecycle): void {
    turn.check(`region ${this.regionId}: ${this.lifecycleValue.kind} → ${next.kind}`);
    checkTransition(this.regionId, this.lifecycleValue, next);
    this.lifecycleValue = next;
  }

  /** Raft accepted a snapshot: the peer waits while its data is replaced. */
  beginSnapshotInstall(turn: Turn): void {
    this.transition(turn, {
      kind: "applying-snapshot",
      initialized: this.initialized,
      destroyReason: undefined,
    });
  }

  /** The installed snapshot's state becomes the peer's; a destroy asked for meanwhile now goes ahead. */
  finishSnapshotInstall(
    turn: Turn,
    region: metapb.Region,
    index: number,
    term: number,
    hardState: HardState,
  ): void {
    const lifecycle = this.lifecycleValue;
    if (lifecycle.kind !== "applying-snapshot") {
      throw new PeerInvariantError(`region ${this.regionId}: snapshot installed while ${lifecycle.kind}`);
    }
    this.storage.installSnapshot(index, term, confStateOfRegion(region));
    this.storage.hardState = hardState;
    this.regionValue = region;
    this.appliedIndexValue = index;
    this.appliedTermValue = term;
    this.firstStoredIndexValue = index + 1;
    this.dataGenerationValue++;
    this.writtenBytesValue = 0;
    this.writtenKeysValue = 0;
    this.rememberPeersOf(region);
    this.transition(
      turn,
      lifecycle.destroyReason === undefined
        ? { kind: "normal" }
        : { kind: "pending-destroy", initialized: true, reason: lifecycle.destroyReason },
    );
  }

  /**
   * Marks the peer for destruction at the end of the turn (or once its snapshot install ends). Returns
   * false when it is already going away.
   */
  requestDestroy(turn: Turn, reason: string): boolean {
    const lifecycle = this.lifecycleValue;
    switch (lifecycle.kind) {
      case "uninitialized":
      case "normal":
        this.transition(turn, { kind: "pending-destroy", initialized: this.initialized, reason });
        return true;
      case "applying-snapshot":
        if (lifecycle.destroyReason !== undefined) return false;
        this.transition(turn, { ...lifecycle, destroyReason: reason });
        return true;
      case "pending-destroy":
      case "destroyed":
        return false;
      default:
        return lifecycle satisfies never;
    }
  }

  /** The peer is gone (destroyed, or an uninitialized peer replaced by a split's): it changes no more. */
  markDestroyed(turn: Turn, reason: string): void {
    this.transition(turn, { kind: "destroyed", reason });
    this.outgoing = undefined;
    this.incoming = undefined;
  }

  // ---- raft ------------------------------------------------------------------------------------------

  addTicks(turn: Turn, ticks: number, max: number): void {
    turn.check("adding ticks");
    this.pendingTicksValue = Math.min(max, this.pendingTicksValue + ticks);
  }

  /** Delivers the ticks due. */
  tick(turn: Turn): void {
    turn.check("ticking");
    for (; this.pendingTicksValue > 0; this.pendingTicksValue--) this.rawNode.tick();
  }

  /** Steps a message from `fromPeer`, remembering the sender's address for replies. */
  step(turn: Turn, message: Message, fromPeer: metapb.Peer, nowMs: number): void {
    turn.check("stepping a raft message");
    this.peerCache.set(message.from, fromPeer);
    this.rawNode.step(message);
    if (this.isLeader) this.peerLastHeardMs.set(message.from, nowMs);
  }

  /** A leader's message arrived or this peer leads: the region is alive (stale peer detection). */
  sawLeader(turn: Turn, nowMs: number): void {
    turn.check("recording a leader contact");
    this.lastLeaderSeenMsValue = nowMs;
  }

  campaign(turn: Turn): void {
    turn.check("campaigning");
    this.rawNode.campaign();
  }

  transferLeader(turn: Turn, to: NodeId): void {
    turn.check("transferring leadership");
    this.rawNode.transferLeader(to);
  }

  reportUnreachable(turn: Turn, to: NodeId): void {
    turn.check("reporting an unreachable peer");
    this.rawNode.reportUnreachable(to);
  }

  reportSnapshot(turn: Turn, to: NodeId, status: "finish" | "failure"): void {
    turn.check("reporting a snapshot send");
    this.rawNode.reportSnapshot(to, status);
  }

  readIndex(turn: Turn, context: Uint8Array): void {
    turn.check("asking for a read index");
    this.rawNode.readIndex(context);
  }

  ready(turn: Turn): Ready {
    turn.check("taking a Ready");
    const ready = this.rawNode.ready();
    this.checkProposalsAppended(ready.entries);
    return ready;
  }

  /** The Ready's entries and hard state are durable. */
  persisted(turn: Turn, ready: Ready): void {
    turn.check("recording a persisted Ready");
    this.storage.append(ready.entries);
    if (ready.hardState !== undefined) {
      this.storage.hardState = ready.hardState;
      this.termValue = ready.hardState.term;
    }
  }

  onPersisted(turn: Turn, ready: Ready): void {
    turn.check("acknowledging a persisted Ready");
    this.rawNode.onPersisted(ready.number);
  }

  advance(turn: Turn, ready: Ready): void {
    turn.check("advancing");
    this.rawNode.advance(ready);
  }

  /**
   * Takes a soft state change; returns true when this peer just stopped leading. A new leader starts its
   * bookkeeping of when it heard from each member afresh.
   */
  onSoftState(turn: Turn, softState: SoftState, nowMs: number): boolean {
    turn.check("taking a soft state");
    const wasLeader = this.isLeader;
    this.leaderIdValue = softState.leaderId;
    this.roleValue = softState.role;
    if (this.isLeader && !wasLeader) {
      this.peerLastHeardMs.clear();
      this.leaderSinceMsValue = nowMs;
    }
    return wasLeader && !this.isLeader;
  }

  /**
   * Appends a command to the leader's log and records where it went. Throws ProposalDroppedError (and
   * InvalidConfChangeError for a conf change) when raft refuses it.
   */
  propose(turn: Turn, proposal: Proposal, data: Uint8Array, confChange: ConfChange | undefined): void {
    turn.check("proposing");
    if (this.proposedThisTurn === 0) {
      // On the leader every accepted proposal is appended right after the last entry, in the current
      // term; reading the status once per turn is enough to number all of the turn's proposals.
      const status = this.rawNode.status();
      this.nextProposalIndex = status.lastIndex + 1;
      this.proposalTerm = status.hardState.term;
    }
    if (confChange === undefined) this.rawNode.propose(data);
    else this.rawNode.proposeConfChange(confChange);
    proposal.index = this.nextProposalIndex++;
    proposal.term = this.proposalTerm;
    this.proposedThisTurn++;
    this.proposals.push(proposal);
  }

  /**
   * Called with each Ready: the proposals numbered this turn must be exactly the tail of its entries,
   * or proposals would be matched with the wrong entries when they apply.
   */
  private checkProposalsAppended(entries: readonly Entry[]): void {
    if (this.proposedThisTurn === 0) return;
    const last = entries[entries.length - 1];
    if (last === undefined || last.index !== this.nextProposalIndex - 1 || last.term !== this.proposalTerm) {
      throw new PeerInvariantError(
        `region ${this.regionId}: proposals numbered up to (${this.nextProposalIndex - 1}, ${this.proposalTerm}) but the Ready ends at (${last?.index}, ${last?.term})`,
      );
    }
    this.proposedThisTurn = 0;
  }

  /** The proposals an applied entry answers: its own, and older ones another leader's log replaced. */
  takeProposals(turn: Turn, index: number, term: number): ReturnType<ProposalQueue["take"]> {
    turn.check("taking proposals");
    return this.proposals.take(index, term);
  }

  /** Fails every proposal awaiting apply (the peer is going away or stopped leading). */
  failProposals(error: () => Error): number {
    const proposals = this.proposals.drain();
    for (const proposal of proposals) proposal.fail(error());
    return proposals.length;
  }

  // ---- apply -----------------------------------------------------------------------------------------

  /** The apply state to build this turn's batch from; the peer adopts it once the batch is written. */
  applyState(): ApplyState {
    return {
      region: this.regionValue,
      appliedIndex: this.appliedIndexValue,
      appliedTerm: this.appliedTermValue,
      truncatedIndex: this.storage.truncatedIndex,
      truncatedTerm: this.storage.truncatedTerm,
      writtenBytes: this.writtenBytesValue,
      writtenKeys: this.writtenKeysValue,
    };
  }

  /** The turn's kv batch with this peer's entries is written: the peer's state is `state`'s. */
  applied(turn: Turn, state: ApplyState): void {
    turn.check("adopting an apply state");
    this.regionValue = state.region;
    this.appliedIndexValue = state.appliedIndex;
    this.appliedTermValue = state.appliedTerm;
    this.writtenBytesValue = state.writtenBytes;
    this.writtenKeysValue = state.writtenKeys;
  }

  applyConfChange(turn: Turn, change: ConfChange, region: metapb.Region): ConfState {
    turn.check("applying a conf change");
    const confState = this.rawNode.applyConfChange(change);
    this.storage.confState = confState;
    this.rememberPeersOf(region);
    return confState;
  }

  /** A durable CompactLog truncated the log up to `index`; its entries wait for deletion (log GC). */
  compactLog(turn: Turn, index: number): void {
    turn.check("compacting the log");
    this.storage.compactTo(index);
    this.pendingLogDeleteBeforeValue = index + 1;
  }

  /** The log GC deleted stored entries up to the pending point. */
  logDeleted(turn: Turn): void {
    turn.check("recording a log deletion");
    this.firstStoredIndexValue = this.pendingLogDeleteBeforeValue;
  }

  // ---- background work ---------------------------------------------------------------------------------

  /** Returns false when the job is already running. */
  startJob(turn: Turn, job: PeerJob): boolean {
    turn.check(`starting ${job}`);
    if (this.jobs.has(job)) return false;
    this.jobs.add(job);
    if (job === "snapshot-generation") this.snapshotWantedValue = false;
    if (job === "split-check") {
      this.writtenBytesValue = 0;
      this.writtenKeysValue = 0;
    }
    return true;
  }

  finishJob(turn: Turn, job: PeerJob): void {
    turn.check(`finishing ${job}`);
    this.jobs.delete(job);
  }

  measured(turn: Turn, sizeBytes: number, keys: number): void {
    turn.check("recording a region size");
    this.sizeValue = { approximateSizeBytes: sizeBytes, approximateKeys: keys, measured: true };
  }

  setOutgoingSnapshot(turn: Turn, outgoing: OutgoingSnapshot | undefined): OutgoingSnapshot | undefined {
    turn.check("replacing the outgoing snapshot");
    const previous = this.outgoing;
    this.outgoing = outgoing;
    if (outgoing === undefined) this.storage.forgetSnapshot();
    else this.storage.offerSnapshot(outgoing.snapshot, epochOf(outgoing.generated.metadata.region));
    return previous;
  }

  setIncomingSnapshot(turn: Turn, incoming: IncomingSnapshot | undefined): void {
    turn.check("replacing the incoming snapshot");
    this.incoming = incoming;
  }

  private rememberPeersOf(region: metapb.Region): void {
    for (const peer of region.peers) this.peerCache.set(peerIdToNode(peer.id), peer);
  }
}

function raftConfig(
  id: NodeId,
  appliedIndex: number,
  environment: PeerEnvironment,
  regionId: bigint,
): RaftConfig {
  const { config, random, logger } = environment;
  return {
    id,
    electionTicks: config.electionTicks,
    heartbeatTicks: config.heartbeatTicks,
    preVote: true,
    checkQuorum: true,
    maxSizePerMessageBytes: config.raftMaxSizePerMessageBytes,
    maxInflightMessages: config.raftMaxInflightMessages,
    maxInflightBytes: config.raftMaxInflightBytes,
    maxUncommittedEntriesBytes: config.raftMaxUncommittedBytes,
    leaseRead: config.leaseRead,
    appliedIndex,
    random,
    logger: (event, fields) => {
      if (logger.isLevelEnabled("debug")) logger.debug({ regionId, peerId: id, ...fields }, event);
    },
  };
}
