/**
 * One region's replica on this store: its raft group (RawNode over PeerStorage), its region meta as of
 * the applied index, its mailbox, and the proposals and reads waiting on it. The store loop drives it;
 * nothing here does I/O.
 */
import type { Logger } from "#observability";
import type { metapb } from "#proto";
import {
  type ConfChange,
  type Entry,
  NONE,
  type NodeId,
  type RaftConfig,
  RawNode,
  Role,
  type SoftState,
} from "#raft";
import type { Random } from "#runtime";
import type { RaftState } from "../engine/raft-log-store.ts";
import type { ApplyState } from "./apply.ts";
import { PeerMailbox } from "./peer-mailbox.ts";
import type { IncomingSnapshot, OutgoingSnapshot } from "./peer-snapshot.ts";
import { PeerStorage } from "./peer-storage.ts";
import { type Proposal, ProposalQueue } from "./proposal.ts";
import type { RaftstoreConfig } from "./raftstore-config.ts";
import { PeerReads } from "./read-path.ts";
import { confStateOfRegion, epochOf, peerIdToNode } from "./region-meta.ts";

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

export class Peer {
  readonly regionId: bigint;
  readonly meta: metapb.Peer;
  readonly nodeId: NodeId;
  /** The region as of the applied index. */
  region: metapb.Region;
  /** Holds data for its range (created with data, or a snapshot arrived). */
  initialized: boolean;
  readonly storage: PeerStorage;
  readonly rawNode: RawNode;
  appliedIndex: number;
  appliedTerm: number;
  leaderId: NodeId = NONE;
  role: Role = Role.Follower;
  term: number;
  readonly mailbox: PeerMailbox;
  readonly proposals = new ProposalQueue();
  readonly reads = new PeerReads();
  /** Every peer this region ever had while this peer knew it, so messages to removed peers still route. */
  readonly peerCache = new Map<NodeId, metapb.Peer>();
  destroyed = false;
  /** Why this peer must be destroyed at the end of the current or next turn (its own removal applied, a
   * newer peer replaced it, it learned it was removed); undefined while it lives. */
  pendingDestroy: string | undefined;
  /** A pd query about whether this long-isolated peer is still a member is in flight. */
  staleCheckInFlight = false;
  /** Incremented when a snapshot replaces the data, so readers started before notice. */
  dataGeneration = 0;
  /** Lease validity, recomputed at most once per store loop turn. */
  leaseValidUntilMs = 0;
  leaseTurn = -1;
  /** The raft core asked for a snapshot to send; the loop generates one after the turn's apply. */
  snapshotWanted = false;
  generatingSnapshot = false;
  /** The snapshot this leader sends to followers that fell behind its log. */
  outgoingSnapshot: OutgoingSnapshot | undefined;
  /** A received snapshot staged on disk, waiting for raft to accept it in the next turn. */
  incomingSnapshot: IncomingSnapshot | undefined;
  /** When this peer last became leader (monotonic ms). */
  leaderSinceMs = 0;
  /** On the leader: when each member was last heard from (monotonic ms), for pd's down peers. */
  readonly peerLastHeardMs = new Map<NodeId, number>();
  /** When this peer last knew a leader (monotonic ms), for stale peer detection. */
  lastLeaderSeenMs: number;
  /** Key and value bytes written since the last split check, and the last measured size. */
  writtenBytes = 0;
  writtenKeys = 0;
  approximateSizeBytes = 0;
  approximateKeys = 0;
  /** The approximate figures come from a measure (not just the defaults). */
  sizeMeasured = false;
  splitCheckInFlight = false;
  /** Raft log entries before this index wait to be deleted from the raft engine (log GC). */
  pendingLogDeleteBefore = 0;
  /** Entries still in the raft engine from this index on (what the next log GC deletes from). */
  firstStoredIndex: number;
  /** Numbering of the proposals accepted since the last Ready. */
  private proposedThisTurn = 0;
  private nextProposalIndex = 0;
  private proposalTerm = 0;

  constructor(init: PeerInit, environment: PeerEnvironment, nowMs: number) {
    this.regionId = init.region.id;
    this.meta = init.meta;
    this.nodeId = peerIdToNode(init.meta.id);
    this.region = init.region;
    this.initialized = init.initialized;
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
        onSnapshotWanted: () => {
          this.snapshotWanted = true;
        },
        currentEpoch: () => epochOf(this.region),
      },
    );
    this.rawNode = new RawNode(
      raftConfig(this.nodeId, init.appliedIndex, environment, this.regionId),
      this.storage,
    );
    this.appliedIndex = init.appliedIndex;
    this.appliedTerm = this.storage.term(init.appliedIndex);
    this.term = init.raftState.hardState.term;
    this.firstStoredIndex = init.truncatedIndex + 1;
    this.lastLeaderSeenMs = nowMs;
    this.rememberPeers(init.region);
    this.peerCache.set(this.nodeId, init.meta);
  }

  get isLeader(): boolean {
    return this.role === Role.Leader;
  }

  /** The leader as this peer knows it, with its store (undefined when unknown). */
  leaderPeer(): metapb.Peer | undefined {
    return this.leaderId === NONE ? undefined : this.peerCache.get(this.leaderId);
  }

  rememberPeers(region: metapb.Region): void {
    for (const peer of region.peers) this.peerCache.set(peerIdToNode(peer.id), peer);
  }

  /** Returns true when this peer just stopped leading. */
  onSoftState(softState: SoftState): boolean {
    const wasLeader = this.isLeader;
    this.leaderId = softState.leaderId;
    this.role = softState.role;
    this.leaseTurn = -1;
    return wasLeader && !this.isLeader;
  }

  /**
   * Appends a command to the leader's log and records where it went. Throws ProposalDroppedError (and
   * InvalidConfChangeError for a conf change) when raft refuses it.
   */
  propose(proposal: Proposal, data: Uint8Array, confChange: ConfChange | undefined): void {
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
  checkProposalsAppended(entries: readonly Entry[]): void {
    if (this.proposedThisTurn === 0) return;
    const last = entries[entries.length - 1];
    if (last === undefined || last.index !== this.nextProposalIndex - 1 || last.term !== this.proposalTerm) {
      throw new PeerInvariantError(
        `region ${this.regionId}: proposals numbered up to (${this.nextProposalIndex - 1}, ${this.proposalTerm}) but the Ready ends at (${last?.index}, ${last?.term})`,
      );
    }
    this.proposedThisTurn = 0;
  }

  /** The apply state to build this turn's batch from; the peer adopts it once the batch is written. */
  applyState(): ApplyState {
    return {
      region: this.region,
      appliedIndex: this.appliedIndex,
      appliedTerm: this.appliedTerm,
      truncatedIndex: this.storage.truncatedIndex,
      truncatedTerm: this.storage.truncatedTerm,
      writtenBytes: this.writtenBytes,
      writtenKeys: this.writtenKeys,
    };
  }

  /** Fails every proposal awaiting apply (the peer is going away or stopped leading). */
  failProposals(error: () => Error): number {
    const proposals = this.proposals.drain();
    for (const proposal of proposals) proposal.fail(error());
    return proposals.length;
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
    leaseRead: config.leaseRead,
    appliedIndex,
    random,
    logger: (event, fields) => {
      if (logger.isLevelEnabled("debug")) logger.debug({ regionId, peerId: id, ...fields }, event);
    },
  };
}
