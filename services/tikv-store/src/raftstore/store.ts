/**
 * The raftstore facade: what the gRPC server, the pd worker and tests use. Requests are checked (store,
 * region, leadership, epoch, key range) and turned into proposals or linearizable reads; raft traffic
 * and snapshots come in here; admin operations (membership, leadership, splits) start here.
 */
import type { Logger, MetricFactory } from "#observability";
import type { metapb, pdpb, raft_cmdpb, raft_serverpb } from "#proto";
import type { NodeId } from "#raft";
import { WriteBatch } from "#rocksdb";
import {
  type Clock,
  type Random,
  sleep,
  systemClock,
  systemRandom,
  systemTimers,
  TaskScope,
  type Timers,
} from "#runtime";
import { KvEngine } from "../engine/kv-engine.ts";
import { RaftEngine } from "../engine/raft-engine.ts";
import { RaftLogStore } from "../engine/raft-log-store.ts";
import { txnDeleteRange } from "../engine/txn-data.ts";
import type { Modify } from "../mvcc/mvcc-txn.ts";
import { SnapshotStore } from "../snapshot/snapshot-store.ts";
import { initialRaftState, writeInitialRegion } from "./initial-state.ts";
import { createDetachedRaftstoreMetrics, createRaftstoreMetrics, type RaftstoreMetrics } from "./metrics.ts";
import { Peer } from "./peer.ts";
import { unsafePeerChangeReason } from "./peer-change-safety.ts";
import { acceptSnapshot } from "./peer-snapshot.ts";
import {
  type CasRequest,
  type CasResult,
  casRequests,
  type PeerChange,
  type RawMutation,
  txnDeleteRangeRequest,
  txnWriteRequests,
  writeRequests,
} from "./raft-command.ts";
import { defaultRaftstoreConfig, type RaftstoreConfig } from "./raftstore-config.ts";
import { createRegionReader, PendingRead, type RegionReader } from "./read-path.ts";
import {
  CHANGE_PEER_EPOCH_CHECK,
  checkEpoch,
  DATA_COMMAND_EPOCH_CHECK,
  type EpochCheck,
} from "./region-epoch.ts";
import {
  NotLeaderError,
  RegionNotFoundError,
  RegionNotInitializedError,
  ServerIsBusyError,
} from "./region-errors.ts";
import { cloneRegion, findPeer, findPeerOnStore, isLearner, peerIdToNode } from "./region-meta.ts";
import { checkKeys, checkRequest, type KeyCheck, type RequestContext } from "./request-check.ts";
import { proposeHalfSplit, proposeSplit } from "./split-checker.ts";
import {
  type RaftstorePdClient,
  type RaftTransport,
  StoreContext,
  type StoreEngines,
  type StoreObserver,
} from "./store-context.ts";
import { StoreLoop, StoreLoopInvariantError, type TurnScheduler } from "./store-loop.ts";
import { StoreMeta } from "./store-meta.ts";
import { recoverRegions, registerRecovered } from "./store-recovery.ts";
import { submitCommand } from "./submit-command.ts";

export interface StoreOptions {
  /** Holds `kv/`, `raft/` and `snap/`. */
  readonly dataDirectory: string;
  readonly clusterId: bigint;
  /** This store's id; the data directory must be empty or belong to the same cluster and store. */
  readonly storeId: bigint;
  readonly transport: RaftTransport;
  readonly pd: RaftstorePdClient;
  readonly logger: Logger;
  readonly config?: RaftstoreConfig;
  /** The raftstore registers its metrics here (detached metrics when absent). */
  readonly metricFactory?: MetricFactory;
  readonly observer?: StoreObserver;
  readonly clock?: Clock;
  readonly timers?: Timers;
  readonly random?: Random;
  /** Called when an invariant breaks or an engine write fails; the store has stopped. Default: crash. */
  readonly onFatal?: (error: Error) => void;
  /** How the store loop schedules its turns (default setImmediate; a deterministic simulation's own). */
  readonly scheduleTurn?: TurnScheduler;
}

export type { RequestContext } from "./request-check.ts";

/** A received snapshot's data chunks, in order. */
export type SnapshotData = AsyncIterable<Uint8Array> | Iterable<Uint8Array>;

export interface RegionHeartbeatInfo {
  readonly region: metapb.Region;
  readonly leader: metapb.Peer;
  readonly term: bigint;
  readonly downPeers: readonly pdpb.PeerStats[];
  readonly pendingPeers: readonly metapb.Peer[];
  readonly approximateSizeBytes: number;
  readonly approximateKeys: number;
}

export interface StoreStatsInfo {
  readonly regionCount: number;
  readonly leaderCount: number;
  readonly sendingSnapshotCount: number;
  readonly receivingSnapshotCount: number;
  readonly applyingSnapshotCount: number;
  /** Approximate bytes of region data (from the last split-check measures). */
  readonly usedSizeBytes: number;
  readonly isBusy: boolean;
}

/** The change would leave the region without a healthy quorum now (peer-change-safety.ts); retry later. */
export class UnsafePeerChangeError extends Error {
  override readonly name = "UnsafePeerChangeError";
  constructor(
    readonly regionId: bigint,
    readonly reason: string,
  ) {
    super(`region ${regionId}: unsafe peer change: ${reason}`);
  }
}

/** The store cannot take the cluster's first region. */
export class BootstrapError extends Error {
  override readonly name = "BootstrapError";
  constructor(
    readonly storeId: bigint,
    readonly reason: string,
  ) {
    super(`store ${storeId}: cannot bootstrap the first region: ${reason}`);
  }
}

/** A membership change that can never apply as asked. */
export class InvalidPeerChangeError extends Error {
  override readonly name = "InvalidPeerChangeError";
  constructor(
    readonly regionId: bigint,
    readonly reason: string,
  ) {
    super(`region ${regionId}: invalid peer change: ${reason}`);
  }
}

export class Store {
  private closing = false;

  private constructor(
    private readonly context: StoreContext,
    private readonly loop: StoreLoop,
    private readonly raftEngine: RaftEngine,
  ) {}

  /** Opens the engines, checks the identity, recovers every region from disk and starts the loop. */
  static async open(options: StoreOptions): Promise<Store> {
    const config = options.config ?? defaultRaftstoreConfig();
    const kvEngine = await KvEngine.open(options.dataDirectory);
    const raftEngine = await RaftEngine.open(options.dataDirectory);
    let loop: StoreLoop | undefined;
    let scope: TaskScope | undefined;
    try {
      await kvEngine.putStoreIdentOnce({ clusterId: options.clusterId, storeId: options.storeId });
      const snapshotStore = await SnapshotStore.open(options.dataDirectory);
      const metrics: RaftstoreMetrics = options.metricFactory
        ? createRaftstoreMetrics(options.metricFactory)
        : createDetachedRaftstoreMetrics();
      const logger = options.logger.child({ storeId: options.storeId });
      scope = new TaskScope({
        name: `store ${options.storeId}`,
        onError: (error, task) => {
          metrics.backgroundTaskFailures.inc();
          logger.warn({ err: error, task }, "background task failed");
        },
      });
      const context = new StoreContext(
        options.storeId,
        { kvEngine, raftLogStore: new RaftLogStore(raftEngine), snapshotStore },
        config,
        new StoreMeta(config.maxPendingVotes),
        options.transport,
        options.pd,
        options.observer ?? {},
        metrics,
        logger,
        options.clock ?? systemClock,
        options.timers ?? systemTimers,
        options.random ?? systemRandom,
        scope,
      );
      const recovered = await recoverRegions(context);
      loop = new StoreLoop(context, options.onFatal ?? crash, options.scheduleTurn);
      const store = new Store(context, loop, raftEngine);
      loop.start();
      await loop.runInTurn("register recovered regions", (turn) =>
        registerRecovered(context, turn, recovered),
      );
      context.logger.info({ regions: recovered.peers.length }, "raftstore recovered its regions");
      return store;
    } catch (error) {
      await loop?.close();
      await scope?.close();
      await Promise.allSettled([kvEngine.close(), raftEngine.close()]);
      throw error;
    }
  }

  /** The identity recorded in a data directory, if any (to decide whether to ask pd for a store id). */
  static async readIdent(dataDirectory: string): Promise<raft_serverpb.StoreIdent | undefined> {
    const kvEngine = await KvEngine.open(dataDirectory);
    try {
      return await kvEngine.storeIdent();
    } finally {
      await kvEngine.close();
    }
  }

  get storeId(): bigint {
    return this.context.storeId;
  }

  /** The store's engines, for status pages and tests that inspect what is on disk. */
  get engines(): StoreEngines {
    return this.context.engines;
  }

  get regionCount(): number {
    return this.context.meta.peerCount;
  }

  /** Background tasks running (split checks, snapshot work, pd calls); 0 once closed. */
  get backgroundTasks(): number {
    return this.context.scope.size;
  }

  /** The error that stopped the store, if any. */
  get fatalError(): Error | undefined {
    return this.loop.fatalError;
  }

  /**
   * Creates the cluster's first region on this empty store (before or after registering it with pd's
   * Bootstrap). The region's peers must include exactly one peer on this store.
   */
  async bootstrapFirstRegion(region: metapb.Region): Promise<void> {
    const { context } = this;
    if (context.meta.peerCount > 0) throw new BootstrapError(this.storeId, "the store already holds regions");
    const self = findPeerOnStore(region, this.storeId);
    if (self === undefined) throw new BootstrapError(this.storeId, `region ${region.id} has no peer on it`);
    const kvBatch = new WriteBatch();
    writeInitialRegion(kvBatch, region);
    await context.engines.kvEngine.write(kvBatch, { sync: true });
    const raftBatch = new WriteBatch();
    const raftState = initialRaftState();
    context.engines.raftLogStore.putRaftState(raftBatch, region.id, raftState);
    await context.engines.raftLogStore.engine.write(raftBatch, { sync: true });
    await this.loop.runInTurn("register the first region", (turn) => {
      const peer = new Peer(
        {
          region,
          meta: self,
          initialized: true,
          raftState,
          entries: [],
          appliedIndex: raftState.lastIndex,
          truncatedIndex: raftState.lastIndex,
          truncatedTerm: raftState.hardState.term,
        },
        context,
        turn.nowMs,
      );
      context.meta.addPeer(turn, peer);
      context.metrics.regions.set(context.meta.peerCount);
      const voters = region.peers.filter((member) => !isLearner(member));
      if (voters.length === 1 && voters[0]!.id === self.id) peer.mailbox.push({ kind: "campaign" });
      context.wake(peer);
    });
  }

  // ---- requests ------------------------------------------------------------------------------------------

  /** Puts, deletes and range deletes, applied atomically once committed. */
  async write(context: RequestContext, mutations: readonly RawMutation[]): Promise<void> {
    const peer = this.leaderFor(context, DATA_COMMAND_EPOCH_CHECK, undefined);
    for (const mutation of mutations) checkKeys(mutationKeys(mutation), peer.region);
    await submitCommand(
      this.context,
      peer,
      { kind: "write", requests: writeRequests(mutations) },
      DATA_COMMAND_EPOCH_CHECK,
    );
  }

  /** Compare-and-swap, evaluated when the command applies (so it is linearizable with every write). */
  async compareAndSwap(context: RequestContext, request: CasRequest): Promise<CasResult> {
    const peer = this.leaderFor(context, DATA_COMMAND_EPOCH_CHECK, { kind: "keys", keys: [request.key] });
    const response = await submitCommand(
      this.context,
      peer,
      { kind: "write", requests: casRequests(request) },
      DATA_COMMAND_EPOCH_CHECK,
    );
    return casResult(response);
  }

  /**
   * Proposes a transactional command's writes, computed from `read` (a leader read of this region):
   * refused if the region's epoch or the leader's term changed since, applied atomically otherwise.
   */
  async writeTxn(
    context: RequestContext,
    read: { readonly region: metapb.Region; readonly term: number },
    modifies: readonly Modify[],
  ): Promise<void> {
    const peer = this.leaderFor(context, DATA_COMMAND_EPOCH_CHECK, undefined);
    await submitCommand(
      this.context,
      peer,
      { kind: "write", requests: txnWriteRequests(modifies) },
      DATA_COMMAND_EPOCH_CHECK,
      read.region,
      read.term,
    );
  }

  /** Deletes every lock, version and value of user keys [startKey, endKey) in the region, through raft. */
  async deleteTxnRange(context: RequestContext, startKey: Uint8Array, endKey: Uint8Array): Promise<void> {
    const peer = this.leaderFor(context, DATA_COMMAND_EPOCH_CHECK, undefined);
    checkKeys({ kind: "range", startKey, endKey }, peer.region);
    await submitCommand(
      this.context,
      peer,
      { kind: "write", requests: txnDeleteRangeRequest(startKey, endKey) },
      DATA_COMMAND_EPOCH_CHECK,
    );
  }

  /**
   * Deletes the transactional data of user keys [startKey, endKey) from this store's engine directly,
   * across regions and outside raft: for ranges nothing can read or write any more (dropped tables past
   * the GC safe point), where replicating a delete per region would be pointless work.
   */
  async unsafeDestroyRange(startKey: Uint8Array, endKey: Uint8Array): Promise<void> {
    const batch = new WriteBatch();
    txnDeleteRange(batch, startKey, endKey);
    await this.context.engines.kvEngine.write(batch, { sync: true });
  }

  /** A linearizable read of one region: `readFn` runs once the region's state covers every earlier write. */
  async read<T>(
    context: RequestContext,
    keys: KeyCheck,
    readFn: (reader: RegionReader) => T | Promise<T>,
  ): Promise<T> {
    const peer = this.checkedPeer(context, DATA_COMMAND_EPOCH_CHECK, keys, context.replicaRead === true);
    if (!this.leaseCovers(peer)) {
      await this.waitReadIndex(peer);
      // The region may have changed while the read waited; the client's view must still hold.
      checkEpoch(context.regionEpoch, peer.region, DATA_COMMAND_EPOCH_CHECK, () =>
        this.context.meta.currentRegions(peer.region),
      );
      checkKeys(keys, peer.region);
      this.context.metrics.reads.inc({ path: "read_index" });
    } else {
      this.context.metrics.reads.inc({ path: "lease" });
    }
    return readFn(createRegionReader(this.context.engines.kvEngine, peer));
  }

  /**
   * Reads the peer's data as this store holds it now, with no linearizability (tests, debugging): a
   * follower's data may lag its leader's.
   */
  async readLocal<T>(regionId: bigint, readFn: (reader: RegionReader) => T | Promise<T>): Promise<T> {
    const peer = this.context.meta.peer(regionId);
    if (peer === undefined || peer.destroyed) throw new RegionNotFoundError(regionId);
    if (!peer.initialized) throw new RegionNotInitializedError(regionId);
    return readFn(createRegionReader(this.context.engines.kvEngine, peer));
  }

  // ---- raft traffic --------------------------------------------------------------------------------------

  /** Queues raft messages for routing in the next turn; beyond the inbox bound they are dropped. */
  onRaftMessages(messages: readonly raft_serverpb.RaftMessage[]): void {
    if (this.closing) return;
    for (const message of messages) {
      if (!this.loop.receive(message)) this.context.metrics.raftMessagesDropped.inc({ reason: "inbox_full" });
    }
  }

  /**
   * Takes a received snapshot's chunks; resolves once the snapshot is staged on disk and verified whole
   * (the sender may then report it delivered). Rejects with SnapshotRefusedError when the store cannot
   * install it now, or with the receive's error for a broken or corrupt stream: nothing is then staged.
   */
  async onSnapshotReceived(message: raft_serverpb.RaftMessage, data: SnapshotData): Promise<void> {
    if (this.closing) throw new ServerIsBusyError("the store is closing", this.context.config.busyBackoffMs);
    await acceptSnapshot(this.context, message, toAsyncIterable(data));
  }

  /** The transport could not deliver to `toPeerId`: its leader slows down and probes. */
  reportUnreachable(regionId: bigint, toPeerId: bigint): void {
    const peer = this.context.meta.peer(regionId);
    if (peer === undefined || peer.destroyed) return;
    peer.mailbox.push({ kind: "unreachable", to: peerIdToNode(toPeerId) });
    this.context.wake(peer);
  }

  // ---- admin ---------------------------------------------------------------------------------------------

  /**
   * Adds a learner, promotes a learner, or removes a peer; resolves with the region once the change
   * applied (at once when it is already in effect). Removing the leader itself first hands leadership to
   * another voter and answers NotLeader, so the caller repeats the removal on the new leader.
   */
  async changePeer(regionId: bigint, change: PeerChange): Promise<metapb.Region> {
    const peer = this.leaderFor(
      { regionId, regionEpoch: undefined, peer: undefined },
      { version: false, confVer: false },
      undefined,
    );
    const region = peer.region;
    const existing = findPeer(region, change.peer.id);
    const inEffect = peerChangeInEffect(region, change, existing);
    if (inEffect) return cloneRegion(region);
    if (change.type === "remove" && change.peer.id === peer.meta.id) {
      const successor = this.transferTarget(peer);
      if (successor === undefined) throw new InvalidPeerChangeError(regionId, "the leader is the only voter");
      peer.mailbox.push({ kind: "transfer-leader", to: peerIdToNode(successor.id) });
      this.context.wake(peer);
      throw new NotLeaderError(regionId, successor);
    }
    const { clock, config } = this.context;
    const unsafe = unsafePeerChangeReason(
      peer,
      change,
      clock.monotonicMs(),
      config.electionTicks * config.baseTickMs,
    );
    if (unsafe !== undefined) throw new UnsafePeerChangeError(regionId, unsafe);
    const response = await submitCommand(
      this.context,
      peer,
      { kind: "change-peer", change },
      CHANGE_PEER_EPOCH_CHECK,
    );
    const result = response.adminResponse?.cmd;
    if (result?.$case !== "changePeer" || result.value.region === undefined) {
      throw new InvalidPeerChangeError(regionId, "the change applied without a region");
    }
    return result.value.region;
  }

  /** Asks the region's leader to hand leadership to `toPeer` (a voter); returns at once. */
  transferLeader(regionId: bigint, toPeer: metapb.Peer): void {
    const peer = this.leaderFor({ regionId, regionEpoch: undefined, peer: undefined }, NO_CHECK, undefined);
    peer.mailbox.push({ kind: "transfer-leader", to: peerIdToNode(toPeer.id) });
    this.context.wake(peer);
  }

  /**
   * Splits the region at `splitKeys` (ids from pd), or without keys at the key that halves its data (pd's
   * SCAN and APPROXIMATE policies); resolves with the parent and the new regions.
   */
  async splitRegion(regionId: bigint, splitKeys: readonly Uint8Array[]): Promise<metapb.Region[]> {
    const peer = this.leaderFor({ regionId, regionEpoch: undefined, peer: undefined }, NO_CHECK, undefined);
    if (splitKeys.length === 0) return proposeHalfSplit(this.context, peer);
    return proposeSplit(this.context, peer, splitKeys);
  }

  /** Moves every leadership this store holds to other stores, waiting at most `timeoutMs`. */
  async transferAllLeadersAway(timeoutMs: number): Promise<void> {
    const { clock, timers, config } = this.context;
    const deadline = clock.monotonicMs() + timeoutMs;
    while (clock.monotonicMs() < deadline) {
      let leading = 0;
      for (const peer of this.context.meta.peers()) {
        if (!peer.isLeader || peer.isGoingAway) continue;
        const target = this.transferTarget(peer);
        if (target === undefined) continue;
        leading++;
        peer.mailbox.push({ kind: "transfer-leader", to: peerIdToNode(target.id) });
        this.context.wake(peer);
      }
      if (leading === 0) return;
      await sleep(config.baseTickMs * config.heartbeatTicks, timers);
    }
  }

  // ---- reporting -----------------------------------------------------------------------------------------

  /** What pd hears about every region this store leads. */
  *regionsForHeartbeat(): Iterable<RegionHeartbeatInfo> {
    for (const peer of this.context.meta.peers()) {
      const info = this.heartbeatOf(peer);
      if (info !== undefined) yield info;
    }
  }

  /** Whether this store leads the region holding the first key (where the deadlock detector runs). */
  leadsFirstRegion(): boolean {
    for (const peer of this.context.meta.peers()) {
      if (peer.region.startKey.length === 0 && !peer.destroyed) return peer.isLeader;
    }
    return false;
  }

  /** The heartbeat for one region, when this store leads it. */
  regionHeartbeat(regionId: bigint): RegionHeartbeatInfo | undefined {
    const peer = this.context.meta.peer(regionId);
    return peer === undefined ? undefined : this.heartbeatOf(peer);
  }

  storeStats(): StoreStatsInfo {
    const { meta, pendingProposals, config } = this.context;
    let sending = 0;
    let receiving = 0;
    let usedSizeBytes = 0;
    for (const peer of meta.peers()) {
      sending += peer.outgoingSnapshot?.sends ?? 0;
      if (peer.incomingSnapshot !== undefined) receiving++;
      usedSizeBytes += peer.size.approximateSizeBytes;
    }
    return {
      regionCount: meta.peerCount,
      leaderCount: meta.leaderCount(),
      sendingSnapshotCount: sending,
      receivingSnapshotCount: receiving,
      applyingSnapshotCount: meta.pendingSnapshotCount,
      usedSizeBytes,
      isBusy: pendingProposals * 2 >= config.maxPendingProposals,
    };
  }

  /** The region as this store holds it (tests, status pages). */
  region(regionId: bigint): metapb.Region | undefined {
    const peer = this.context.meta.peer(regionId);
    return peer?.initialized ? cloneRegion(peer.region) : undefined;
  }

  /** The region ids this store holds a peer of, and whether it leads each. */
  peers(): Array<{ readonly regionId: bigint; readonly peerId: bigint; readonly isLeader: boolean }> {
    return [...this.context.meta.peers()].map((peer) => ({
      regionId: peer.regionId,
      peerId: peer.meta.id,
      isLeader: peer.isLeader,
    }));
  }

  /**
   * Stops the loop, cancels and awaits every background task, fails whatever waits, releases snapshot
   * views, closes the engines. Nothing the store started outlives it. Idempotent.
   */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    await this.loop.close();
    const releases: Promise<void>[] = [];
    // No turn answers proposals or reads any more. Fail them before closing the scope: background tasks
    // wait on some of them (a log compaction, a split), and the scope waits for those tasks.
    this.failWaiting(releases);
    await this.context.scope.close();
    // What the tasks posted while they ended.
    this.failWaiting(releases);
    for (const peer of this.context.meta.peers()) {
      const outgoing = peer.outgoingSnapshot;
      if (outgoing !== undefined && !outgoing.released) {
        outgoing.released = true;
        releases.push(outgoing.generated.release());
      }
    }
    const released = await Promise.allSettled(releases);
    for (const result of released) {
      if (result.status === "rejected") {
        this.context.logger.warn({ err: result.reason }, "releasing a snapshot view on close failed");
      }
    }
    await Promise.allSettled([this.context.engines.kvEngine.close(), this.raftEngine.close()]);
  }

  /** Fails every proposal and read of a closing store; collects the snapshot views mailboxes hold. */
  private failWaiting(releases: Promise<void>[]): void {
    const error = (): Error =>
      new ServerIsBusyError("the store is closing", this.context.config.busyBackoffMs);
    for (const peer of this.context.meta.peers()) {
      peer.failProposals(error);
      peer.reads.failAll(error);
      for (const task of peer.mailbox.takeAll()) {
        if (task.kind === "command") task.command.proposal.fail(error());
        else if (task.kind === "read-index") task.read.fail(error());
        else if (task.kind === "snapshot-generated" && task.generated !== undefined) {
          releases.push(task.generated.release());
        }
      }
    }
  }

  // ---- checks --------------------------------------------------------------------------------------------

  /** The peer a request addresses, after the checks every request goes through (TiKV's order). */
  private checkedPeer(
    context: RequestContext,
    epochCheck: EpochCheck,
    keys: KeyCheck | undefined,
    allowFollower: boolean,
  ): Peer {
    if (this.closing || this.loop.fatalError !== undefined) {
      throw new ServerIsBusyError("the store is not running", this.context.config.busyBackoffMs);
    }
    return checkRequest(
      this.storeId,
      this.context.meta.peer(context.regionId),
      context,
      { epoch: epochCheck, keys, allowFollower },
      this.context.meta,
    );
  }

  private leaderFor(context: RequestContext, epochCheck: EpochCheck, keys: KeyCheck | undefined): Peer {
    return this.checkedPeer(context, epochCheck, keys, false);
  }

  /** Whether the leader can answer from local state now (lease valid, an entry of its term applied). */
  private leaseCovers(peer: Peer): boolean {
    if (!peer.isLeader || !this.context.config.leaseRead || peer.appliedTerm !== peer.term) return false;
    return this.context.clock.monotonicMs() < this.leaseValidUntil(peer);
  }

  /**
   * The lease counts ticks; ticks may run late when the loop stalls, while the followers' clocks do not
   * wait. So the lease is also bounded in real time: it ends one tick before the remaining ticks would
   * have elapsed since the last tick.
   */
  private leaseValidUntil(peer: Peer): number {
    const remainingTicks = peer.leaseRemainingTicks();
    if (remainingTicks <= 1) return 0;
    return this.loop.lastTickAtMs + (remainingTicks - 1) * this.context.config.baseTickMs;
  }

  private waitReadIndex(peer: Peer): Promise<void> {
    const { context } = this;
    if (context.pendingReads >= context.config.maxPendingReads) {
      return Promise.reject(
        new ServerIsBusyError(`${context.pendingReads} reads pending`, context.config.busyBackoffMs),
      );
    }
    return new Promise<void>((resolve, reject) => {
      context.pendingReads++;
      const read = new PendingRead(
        context.nextReadId(),
        context.clock.monotonicMs() + context.config.readIndexTimeoutMs,
        () => {
          context.pendingReads--;
          resolve();
        },
        (error) => {
          context.pendingReads--;
          reject(error);
        },
      );
      if (!peer.mailbox.offer({ kind: "read-index", read })) {
        read.fail(
          new ServerIsBusyError(`region ${peer.regionId} mailbox is full`, context.config.busyBackoffMs),
        );
        return;
      }
      context.wake(peer);
    });
  }

  /** The voter on another store most up to date with the leader's log. */
  private transferTarget(peer: Peer): metapb.Peer | undefined {
    const progress = peer.status().progress;
    let best: metapb.Peer | undefined;
    let bestMatch = -1;
    for (const member of peer.region.peers) {
      if (member.id === peer.meta.id || isLearner(member)) continue;
      const match = progress?.get(peerIdToNode(member.id))?.match ?? 0;
      if (match > bestMatch) {
        best = member;
        bestMatch = match;
      }
    }
    return best;
  }

  private heartbeatOf(peer: Peer): RegionHeartbeatInfo | undefined {
    if (!peer.isLeader || peer.isGoingAway || !peer.initialized) return undefined;
    const now = this.context.clock.monotonicMs();
    const progress = peer.status().progress;
    const downPeers: pdpb.PeerStats[] = [];
    const pendingPeers: metapb.Peer[] = [];
    for (const member of peer.region.peers) {
      if (member.id === peer.meta.id) continue;
      const node: NodeId = peerIdToNode(member.id);
      const heardMs = peer.lastHeardMs(node);
      if (now - heardMs > this.context.config.maxPeerDownMs) {
        downPeers.push({ peer: member, downSeconds: BigInt(Math.floor((now - heardMs) / 1000)) });
      }
      const match = progress?.get(node)?.match ?? 0;
      if (match < peer.log.truncatedIndex) pendingPeers.push(member);
    }
    return {
      region: cloneRegion(peer.region),
      leader: peer.meta,
      term: BigInt(peer.term),
      downPeers,
      pendingPeers,
      approximateSizeBytes: peer.size.approximateSizeBytes,
      approximateKeys: peer.size.approximateKeys,
    };
  }
}

const NO_CHECK: EpochCheck = { version: false, confVer: false };

function mutationKeys(mutation: RawMutation): KeyCheck {
  return mutation.type === "delete-range"
    ? { kind: "range", startKey: mutation.startKey, endKey: mutation.endKey }
    : { kind: "keys", keys: [mutation.key] };
}

function casResult(response: raft_cmdpb.RaftCmdResponse): CasResult {
  const result = response.responses[0]?.cmd;
  if (result?.$case !== "compareAndSwap") {
    throw new StoreLoopInvariantError("compare-and-swap applied without a result");
  }
  const { succeed, previousValue, previousNotExist } = result.value;
  return { succeeded: succeed, previousValue: previousNotExist ? undefined : previousValue };
}

/** Whether the change already holds, so nothing needs proposing; throws when it can never apply. */
function peerChangeInEffect(
  region: metapb.Region,
  change: PeerChange,
  existing: metapb.Peer | undefined,
): boolean {
  const invalid = (reason: string): never => {
    throw new InvalidPeerChangeError(region.id, reason);
  };
  switch (change.type) {
    case "add-learner": {
      if (existing !== undefined) return isLearner(existing) ? true : invalid("the peer is a voter");
      const onStore = findPeerOnStore(region, change.peer.storeId);
      if (onStore !== undefined)
        return invalid(`store ${change.peer.storeId} already holds peer ${onStore.id}`);
      return false;
    }
    case "promote":
      if (existing === undefined) return invalid(`peer ${change.peer.id} is not a learner of the region`);
      return !isLearner(existing);
    case "remove":
      return existing === undefined;
    default:
      return change.type satisfies never;
  }
}

function toAsyncIterable(data: SnapshotData): AsyncIterable<Uint8Array> {
  if (Symbol.asyncIterator in data) return data;
  return (async function* () {
    yield* data;
  })();
}

function crash(error: Error): void {
  // An invariant broke or an engine write failed: continuing could lose acknowledged writes.
  setImmediate(() => {
    throw error;
  });
}
