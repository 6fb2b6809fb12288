/**
 * The store's conversation with pd: a store heartbeat every `pd.store-heartbeat-interval` [10 s]
 * (capacity and free space of the data directory's file system, region and leader counts, `is_stopping`
 * during a graceful shutdown); region heartbeats from every region this store leads, at once when a region
 * changes (leader, epoch, peers), when a peer it reported as catching up has caught up, for all of them
 * every `pd.region-heartbeat-interval` [60 s] and after the heartbeat stream reconnects (a new pd leader
 * knows nothing yet); and the operators pd answers with (change peer, transfer leader, split), executed
 * through the store facade.
 *
 * pd moves an operator one step further each time it hears the region, so how soon a leader reports is
 * how fast a multi-step operator (add a learner, wait for it to catch up, promote it) completes. The store
 * reports its own changes; a peer catching up is no event of the store, so the worker reads the regions
 * it reported with pending peers again every PENDING_PEER_CHECK_MS until they have none.
 *
 * Everything the worker starts (heartbeats, operators) runs in its task scope: `close` cancels it and
 * resolves once nothing the worker started is left.
 *
 * pd leader changes are followed by the pd client: unary calls go to the new leader and the heartbeat
 * stream reopens there, calling `onReconnect`.
 */
import { statfs } from "node:fs/promises";
import type { RegionHeartbeatStream } from "#client";
import type { Logger } from "#observability";
import { eraftpb, metapb, pdpb } from "#proto";
import { type Clock, TaskScope, type TimerHandle, type Timers } from "#runtime";
import type { PeerChange } from "../raftstore/raft-command.ts";
import type { RegionHeartbeatInfo, StoreStatsInfo } from "../raftstore/store.ts";

/**
 * A learner usually catches up within one snapshot; looking five times a second costs one progress read
 * per such region and delays the operator's next step by at most this much.
 */
export const PENDING_PEER_CHECK_MS = 200;

/** What the pd worker needs from the store. */
export interface PdWorkerStore {
  readonly storeId: bigint;
  regionsForHeartbeat(): Iterable<RegionHeartbeatInfo>;
  /** The heartbeat of one region, when this store leads it. */
  regionHeartbeat(regionId: bigint): RegionHeartbeatInfo | undefined;
  storeStats(): StoreStatsInfo;
  changePeer(regionId: bigint, change: PeerChange): Promise<unknown>;
  transferLeader(regionId: bigint, toPeer: metapb.Peer): void;
  /** Without keys the store splits at the middle of the region's data. */
  splitRegion(regionId: bigint, splitKeys: readonly Uint8Array[]): Promise<metapb.Region[]>;
}

/** The slice of the pd client the worker uses. */
export interface PdWorkerClient {
  storeHeartbeat(stats: pdpb.StoreStats): Promise<unknown>;
  regionHeartbeatStream(handlers: {
    onResponse(response: pdpb.RegionHeartbeatResponse): void;
    onReconnect?(): void;
  }): Pick<RegionHeartbeatStream, "send" | "close">;
}

export interface PdWorkerOptions {
  readonly store: PdWorkerStore;
  readonly pd: PdWorkerClient;
  readonly dataDir: string;
  readonly storeHeartbeatIntervalMs: number;
  readonly regionHeartbeatIntervalMs: number;
  readonly clock: Clock;
  readonly timers: Timers;
  readonly logger: Logger;
}

export class PdWorker {
  private stream: Pick<RegionHeartbeatStream, "send" | "close"> | undefined;
  private readonly scope: TaskScope;
  private readonly timers: TimerHandle[] = [];
  private readonly changedRegions = new Set<bigint>();
  private changeFlush: TimerHandle | undefined;
  /** Regions last reported with pending peers, with those peers' ids, until a report shows none. */
  private readonly catchingUp = new Map<bigint, string>();
  private catchUpCheck: TimerHandle | undefined;
  /** Regions with an operator being executed; pd repeats operators until done, so repeats are skipped. */
  private readonly operating = new Set<bigint>();
  private stopping = false;
  private storeHeartbeatInFlight: Promise<void> | undefined;
  private readonly startedAtSeconds: number;
  private lastStoreHeartbeatSeconds: number;

  constructor(private readonly options: PdWorkerOptions) {
    this.startedAtSeconds = Math.floor(options.clock.nowMs() / 1000);
    this.lastStoreHeartbeatSeconds = this.startedAtSeconds;
    this.scope = new TaskScope({
      name: `pd worker of store ${options.store.storeId}`,
      onError: (error, task) => options.logger.warn({ err: error, task }, "pd worker task failed"),
    });
  }

  start(): void {
    const { timers } = this.options;
    this.stream = this.options.pd.regionHeartbeatStream({
      onResponse: (response) => this.onOperator(response),
      onReconnect: () => this.heartbeatAllRegions(),
    });
    this.timers.push(
      timers.setInterval(() => this.spawnStoreHeartbeat(), this.options.storeHeartbeatIntervalMs),
      timers.setInterval(() => this.heartbeatAllRegions(), this.options.regionHeartbeatIntervalMs),
    );
    this.spawnStoreHeartbeat();
  }

  /** The store observer hook: the region's leader, epoch or peers changed, so pd should hear soon. */
  regionChanged(regionId: bigint): void {
    if (this.stream === undefined) return;
    this.changedRegions.add(regionId);
    // Changes of one store-loop turn (a split touches several regions) go out together.
    this.changeFlush ??= this.options.timers.setTimeout(() => {
      this.changeFlush = undefined;
      const changed = [...this.changedRegions].flatMap(
        (regionId) => this.options.store.regionHeartbeat(regionId) ?? [],
      );
      this.changedRegions.clear();
      this.heartbeatRegions(changed);
    }, 0);
  }

  /** Graceful shutdown begins: tell pd at once, so it moves leaders away and schedules nothing here. */
  async reportStopping(): Promise<void> {
    this.stopping = true;
    await this.heartbeatStore();
  }

  /** Sends one store heartbeat now; concurrent callers share it. Failures are logged, never thrown. */
  heartbeatStore(): Promise<void> {
    this.storeHeartbeatInFlight ??= this.sendStoreHeartbeat().finally(() => {
      this.storeHeartbeatInFlight = undefined;
    });
    return this.storeHeartbeatInFlight;
  }

  /**
   * Stops every timer and the heartbeat stream, and resolves once the heartbeats and operators in flight
   * have settled or been given up on: an operator's store call is the store's to finish (it fails its
   * proposals when it closes), so the worker stops waiting for it rather than hold the shutdown.
   */
  async close(): Promise<void> {
    for (const timer of this.timers.splice(0)) timer.cancel();
    this.changeFlush?.cancel();
    this.changeFlush = undefined;
    this.catchUpCheck?.cancel();
    this.catchUpCheck = undefined;
    this.catchingUp.clear();
    this.stream?.close();
    this.stream = undefined;
    await this.scope.close();
  }

  private spawnStoreHeartbeat(): void {
    this.scope.spawn("store heartbeat", (signal) => untilAborted(this.heartbeatStore(), signal));
  }

  private async sendStoreHeartbeat(): Promise<void> {
    try {
      await this.options.pd.storeHeartbeat(await this.storeStats());
    } catch (error) {
      this.options.logger.warn({ err: error }, "store heartbeat to pd failed");
    }
  }

  private async storeStats(): Promise<pdpb.StoreStats> {
    const { store, clock, dataDir } = this.options;
    const disk = await statfs(dataDir);
    const stats = store.storeStats();
    const nowSeconds = Math.floor(clock.nowMs() / 1000);
    const interval = {
      startTimestamp: BigInt(this.lastStoreHeartbeatSeconds),
      endTimestamp: BigInt(nowSeconds),
    };
    this.lastStoreHeartbeatSeconds = nowSeconds;
    const capacity = BigInt(disk.blocks) * BigInt(disk.bsize);
    const available = BigInt(disk.bavail) * BigInt(disk.bsize);
    return pdpb.StoreStats.fromPartial({
      storeId: store.storeId,
      capacity,
      available,
      usedSize: BigInt(stats.usedSizeBytes),
      regionCount: stats.regionCount,
      leaderCount: stats.leaderCount,
      sendingSnapCount: stats.sendingSnapshotCount,
      receivingSnapCount: stats.receivingSnapshotCount,
      applyingSnapCount: stats.applyingSnapshotCount,
      startTime: BigInt(this.startedAtSeconds),
      isBusy: stats.isBusy,
      interval,
      isStopping: this.stopping,
    });
  }

  private heartbeatAllRegions(): void {
    this.heartbeatRegions(this.options.store.regionsForHeartbeat());
  }

  private heartbeatRegions(infos: Iterable<RegionHeartbeatInfo>): void {
    const stream = this.stream;
    if (stream === undefined) return;
    for (const info of infos) {
      stream.send({
        region: info.region,
        leader: info.leader,
        downPeers: [...info.downPeers],
        pendingPeers: [...info.pendingPeers],
        bytesWritten: 0n,
        bytesRead: 0n,
        keysWritten: 0n,
        keysRead: 0n,
        approximateSize: BigInt(info.approximateSizeBytes),
        approximateKeys: BigInt(info.approximateKeys),
        term: info.term,
        interval: undefined,
      });
      this.followCatchUp(info);
    }
  }

  /** pd waits for pending peers to catch up (a learner is promoted only then): it must hear when they have. */
  private followCatchUp(info: RegionHeartbeatInfo): void {
    const regionId = info.region.id;
    if (info.pendingPeers.length === 0) {
      this.catchingUp.delete(regionId);
      return;
    }
    this.catchingUp.set(regionId, peerIds(info.pendingPeers));
    this.catchUpCheck ??= this.options.timers.setTimeout(() => this.checkCatchUp(), PENDING_PEER_CHECK_MS);
  }

  private checkCatchUp(): void {
    this.catchUpCheck = undefined;
    const changed: RegionHeartbeatInfo[] = [];
    for (const [regionId, reported] of this.catchingUp) {
      const info = this.options.store.regionHeartbeat(regionId);
      // Led elsewhere now: the new leader reports the region, pending peers included.
      if (info === undefined) this.catchingUp.delete(regionId);
      else if (peerIds(info.pendingPeers) !== reported) changed.push(info);
    }
    this.heartbeatRegions(changed);
    if (this.catchingUp.size > 0 && this.stream !== undefined) {
      this.catchUpCheck ??= this.options.timers.setTimeout(() => this.checkCatchUp(), PENDING_PEER_CHECK_MS);
    }
  }

  private onOperator(response: pdpb.RegionHeartbeatResponse): void {
    const { logger } = this.options;
    if (response.header?.error !== undefined) {
      // A stale heartbeat (pd knows a newer epoch) needs nothing: the newer leader reports the region.
      logger.debug(
        { regionId: response.regionId, error: response.header.error },
        "pd refused a region heartbeat",
      );
      return;
    }
    const regionId = response.regionId;
    const operation = this.operationFor(response);
    if (operation === undefined || this.operating.has(regionId)) return;
    this.operating.add(regionId);
    const spawned = this.scope.spawn(`pd operator on region ${regionId}`, async (signal) => {
      try {
        await untilAborted(operation(), signal);
      } finally {
        this.operating.delete(regionId);
      }
    });
    if (!spawned) this.operating.delete(regionId);
  }

  /** The store call an operator asks for, or undefined when it does not apply to this store's region now. */
  private operationFor(response: pdpb.RegionHeartbeatResponse): (() => Promise<unknown>) | undefined {
    const { store, logger } = this.options;
    const regionId = response.regionId;
    const current = this.ledRegion(regionId);
    if (current === undefined || !sameEpoch(current.region.regionEpoch, response.regionEpoch)) {
      logger.debug(
        { regionId },
        "ignoring a pd operator for a region this store no longer leads at that epoch",
      );
      return undefined;
    }
    if (response.changePeer?.peer !== undefined) {
      const change = peerChangeOf(response.changePeer, current.region);
      logger.info({ regionId, change: change.type, peerId: change.peer.id }, "pd operator: change peer");
      return () => store.changePeer(regionId, change);
    }
    if (response.transferLeader?.peer !== undefined) {
      const toPeer = response.transferLeader.peer;
      logger.info({ regionId, toPeerId: toPeer.id }, "pd operator: transfer leader");
      return async () => store.transferLeader(regionId, toPeer);
    }
    if (response.splitRegion !== undefined) {
      const { policy, keys } = response.splitRegion;
      logger.info({ regionId, keys: keys.length, policy }, "pd operator: split region");
      // SCAN and APPROXIMATE leave the key to the store: it splits at the middle of the region's data.
      const splitKeys = policy === pdpb.CheckPolicy.USE_KEY ? keys : [];
      return () => store.splitRegion(regionId, splitKeys);
    }
    return undefined;
  }

  private ledRegion(regionId: bigint): RegionHeartbeatInfo | undefined {
    return this.options.store.regionHeartbeat(regionId);
  }
}

function sameEpoch(
  current: metapb.RegionEpoch | undefined,
  expected: metapb.RegionEpoch | undefined,
): boolean {
  // pd always sends the epoch it computed against; without one there is nothing to guard.
  if (expected === undefined) return true;
  return current?.confVer === expected.confVer && current.version === expected.version;
}

/**
 * pd's conf change types onto the store's: ADD_NODE promotes the learner pd added before (pd adds voters
 * as learners first so they catch up without weakening the quorum); for a peer not yet in the region it
 * adds a learner, the first half of the same plan.
 */
function peerChangeOf(changePeer: pdpb.ChangePeer, region: metapb.Region): PeerChange {
  const peer = changePeer.peer!;
  switch (changePeer.changeType) {
    case eraftpb.ConfChangeType.ADD_LEARNER_NODE:
      return { type: "add-learner", peer: { ...peer, role: metapb.PeerRole.LEARNER } };
    case eraftpb.ConfChangeType.ADD_NODE: {
      const existing = region.peers.find((candidate) => candidate.id === peer.id);
      return existing === undefined
        ? { type: "add-learner", peer: { ...peer, role: metapb.PeerRole.LEARNER } }
        : { type: "promote", peer: { ...peer, role: metapb.PeerRole.VOTER } };
    }
    case eraftpb.ConfChangeType.REMOVE_NODE:
      return { type: "remove", peer };
    default:
      return { type: "remove", peer: assertNever(changePeer.changeType) };
  }
}

function peerIds(peers: readonly metapb.Peer[]): string {
  return peers
    .map((peer) => peer.id)
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
    .join(",");
}

/**
 * Settles as `work` does, or rejects with the abort reason as soon as `signal` aborts. `work` is not
 * stopped (its owner settles it); its outcome after the abort is handled here and so never unhandled.
 */
function untilAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    if (signal.aborted) onAbort();
    else signal.addEventListener("abort", onAbort, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(error);
      },
    );
  });
}

function assertNever(value: never): never {
  throw new TypeError(`unknown conf change type ${String(value)}`);
}
