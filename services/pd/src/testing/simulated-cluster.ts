/**
 * Test-only: a cluster's stores and regions as pd would see them, which also plays the stores' part —
 * `apply` carries out a heartbeat reply the way a region leader would (conf change → conf_ver + 1,
 * leader transfer, split → version + 1 with fresh ids) and refuses what a real store would refuse
 * (stale epoch, transfer to a learner). Changes that would break a region (removing its leader or last
 * voter, leaving its healthy voters without a majority) throw SimulationInvariantError, so any test
 * driving scheduling through it checks those safety properties on every step.
 */
import { eraftpb, metapb, pdpb } from "#proto";
import type { ClusterView, RegionInfo, StoreHealth, StoreInfo } from "../cluster/cluster-view.ts";

export class SimulationInvariantError extends Error {
  override readonly name = "SimulationInvariantError";
}

interface SimulatedStore {
  readonly id: bigint;
  health: StoreHealth;
  stopping: boolean;
  readonly availableBytes: number;
}

interface SimulatedRegion {
  readonly id: bigint;
  startKey: Uint8Array;
  endKey: Uint8Array;
  confVer: bigint;
  version: bigint;
  peers: metapb.Peer[];
  leaderPeerId: bigint | undefined;
  /** Peers still receiving their snapshot. */
  readonly pendingPeerIds: Set<bigint>;
  sizeBytes: number;
}

export type ApplyOutcome = { readonly applied: true } | { readonly applied: false; readonly reason: string };

export class SimulatedCluster implements ClusterView {
  private nextId: bigint;
  private readonly storeMap = new Map<bigint, SimulatedStore>();
  private readonly regionMap = new Map<bigint, SimulatedRegion>();

  constructor(options: { readonly firstId?: bigint } = {}) {
    this.nextId = options.firstId ?? 1000n;
  }

  /** pd's AllocID. An arrow function so it can be handed to the coordinator as is. */
  readonly allocId = async (): Promise<bigint> => this.takeId();

  addStore(options: { readonly availableBytes?: number } = {}): bigint {
    const id = this.takeId();
    this.storeMap.set(id, {
      id,
      health: "up",
      stopping: false,
      availableBytes: options.availableBytes ?? 1e12,
    });
    return id;
  }

  /**
   * Changes a store's health. Leaders on a store that stops serving are re-elected among the other voters;
   * a region whose reachable voters are no longer a majority loses its leader (check-quorum).
   */
  setStoreHealth(storeId: bigint, health: StoreHealth): void {
    this.requireStore(storeId).health = health;
    for (const region of this.regionMap.values()) {
      const leader = region.peers.find((peer) => peer.id === region.leaderPeerId);
      if (leader === undefined || !this.isServing(leader.storeId) || !this.hasReachableMajority(region)) {
        this.elect(region);
      }
    }
  }

  setStopping(storeId: bigint, stopping: boolean): void {
    this.requireStore(storeId).stopping = stopping;
  }

  /** Adds a region with one voter on each given store, led by `leaderStoreId` (default the first store). */
  addRegion(options: {
    readonly storeIds: readonly bigint[];
    readonly leaderStoreId?: bigint;
    readonly startKey?: Uint8Array;
    readonly endKey?: Uint8Array;
    readonly sizeBytes?: number;
  }): bigint {
    const id = this.takeId();
    const peers = options.storeIds.map((storeId) => {
      this.requireStore(storeId);
      return { id: this.takeId(), storeId, role: metapb.PeerRole.VOTER };
    });
    const leaderStoreId = options.leaderStoreId ?? options.storeIds[0];
    this.regionMap.set(id, {
      id,
      startKey: options.startKey ?? new Uint8Array(),
      endKey: options.endKey ?? new Uint8Array(),
      confVer: 1n,
      version: 1n,
      peers,
      leaderPeerId: peers.find((peer) => peer.storeId === leaderStoreId)?.id,
      pendingPeerIds: new Set(),
      sizeBytes: options.sizeBytes ?? 0,
    });
    return id;
  }

  /** `count` adjacent regions covering the key space, each placed by `placement(index)`. */
  addRegions(
    count: number,
    placement: (index: number) => { readonly storeIds: readonly bigint[]; readonly leaderStoreId?: bigint },
  ): bigint[] {
    const boundary = (index: number): Uint8Array =>
      index === 0 || index === count
        ? new Uint8Array()
        : new TextEncoder().encode(`r${String(index).padStart(6, "0")}`);
    return Array.from({ length: count }, (_, index) =>
      this.addRegion({ ...placement(index), startKey: boundary(index), endKey: boundary(index + 1) }),
    );
  }

  /** Pending learners on serving stores finish receiving their snapshot. */
  catchUpLearners(): void {
    for (const region of this.regionMap.values()) {
      for (const peer of region.peers) {
        if (this.isServing(peer.storeId)) region.pendingPeerIds.delete(peer.id);
      }
    }
  }

  /** Leadership moves without pd asking, as after an election. */
  electLeader(regionId: bigint, storeId: bigint): void {
    const region = this.requireRegion(regionId);
    const peer = region.peers.find((candidate) => candidate.storeId === storeId);
    if (peer === undefined || peer.role !== metapb.PeerRole.VOTER) {
      throw new Error(`store ${storeId} holds no voter of region ${regionId}`);
    }
    region.leaderPeerId = peer.id;
  }

  /** A membership change pd did not order (another pd, an operator by hand): adds a voter directly. */
  addVoterDirectly(regionId: bigint, storeId: bigint): void {
    const region = this.requireRegion(regionId);
    region.peers.push({ id: this.takeId(), storeId, role: metapb.PeerRole.VOTER });
    region.confVer++;
  }

  /** The region vanishes from pd's view, as when it is merged into a neighbour. */
  removeRegion(regionId: bigint): void {
    this.requireRegion(regionId);
    this.regionMap.delete(regionId);
  }

  regionIds(): bigint[] {
    return [...this.regionMap.keys()];
  }

  /** What the region's leader reports; undefined when the region has no serving leader to report. */
  heartbeat(regionId: bigint): RegionInfo | undefined {
    const region = this.regionMap.get(regionId);
    if (region === undefined || region.leaderPeerId === undefined) return undefined;
    return this.toInfo(region);
  }

  /** Carries out a heartbeat reply as the region's leader would. */
  apply(response: pdpb.RegionHeartbeatResponse): ApplyOutcome {
    const region = this.regionMap.get(response.regionId);
    if (region === undefined) return ignored(`region ${response.regionId} is unknown`);
    const epoch = response.regionEpoch;
    if (epoch?.confVer !== region.confVer || epoch.version !== region.version) {
      return ignored(`stale epoch for region ${region.id}`);
    }
    if (response.targetPeer?.id !== region.leaderPeerId)
      return ignored(`not addressed to region ${region.id}'s leader`);
    if (response.changePeer !== undefined) return this.applyChangePeer(region, response.changePeer);
    if (response.transferLeader !== undefined)
      return this.applyTransferLeader(region, response.transferLeader);
    if (response.splitRegion !== undefined) return this.applySplit(region, response.splitRegion);
    return ignored("empty reply");
  }

  stores(): readonly StoreInfo[] {
    return [...this.storeMap.values()].map((store) => this.toStoreInfo(store));
  }

  store(id: bigint): StoreInfo | undefined {
    const store = this.storeMap.get(id);
    return store && this.toStoreInfo(store);
  }

  *regions(): Iterable<RegionInfo> {
    for (const region of this.regionMap.values()) yield this.toInfo(region);
  }

  region(id: bigint): RegionInfo | undefined {
    const region = this.regionMap.get(id);
    return region && this.toInfo(region);
  }

  *regionsOnStore(storeId: bigint): Iterable<RegionInfo> {
    for (const region of this.regionMap.values()) {
      if (region.peers.some((peer) => peer.storeId === storeId)) yield this.toInfo(region);
    }
  }

  *leaderRegionsOnStore(storeId: bigint): Iterable<RegionInfo> {
    for (const region of this.regionMap.values()) {
      if (this.leaderOf(region)?.storeId === storeId) yield this.toInfo(region);
    }
  }

  private applyChangePeer(region: SimulatedRegion, change: pdpb.ChangePeer): ApplyOutcome {
    const target = change.peer;
    if (target === undefined) return ignored("change_peer without a peer");
    const existing = region.peers.find((peer) => peer.storeId === target.storeId);
    switch (change.changeType) {
      case eraftpb.ConfChangeType.ADD_LEARNER_NODE:
        if (existing !== undefined)
          return ignored(`store ${target.storeId} already holds peer ${existing.id}`);
        region.peers.push({ id: target.id, storeId: target.storeId, role: metapb.PeerRole.LEARNER });
        region.pendingPeerIds.add(target.id);
        break;
      case eraftpb.ConfChangeType.ADD_NODE:
        if (existing !== undefined && existing.id !== target.id)
          return ignored(`store ${target.storeId} holds another peer`);
        if (existing?.role === metapb.PeerRole.VOTER) return ignored(`peer ${target.id} already votes`);
        if (existing === undefined) {
          region.peers.push({ id: target.id, storeId: target.storeId, role: metapb.PeerRole.VOTER });
          region.pendingPeerIds.add(target.id);
        } else {
          existing.role = metapb.PeerRole.VOTER;
        }
        break;
      case eraftpb.ConfChangeType.REMOVE_NODE:
        if (existing?.id !== target.id) return ignored(`peer ${target.id} is not in region ${region.id}`);
        if (existing.id === region.leaderPeerId) {
          throw new SimulationInvariantError(
            `pd asked region ${region.id} to remove its leader ${existing.id}`,
          );
        }
        region.peers = region.peers.filter((peer) => peer.id !== existing.id);
        region.pendingPeerIds.delete(existing.id);
        break;
      default:
        return ignored(`unknown conf change type ${change.changeType}`);
    }
    region.confVer++;
    this.checkQuorum(region);
    return { applied: true };
  }

  private applyTransferLeader(region: SimulatedRegion, transfer: pdpb.TransferLeader): ApplyOutcome {
    const target = region.peers.find((peer) => peer.id === transfer.peer?.id);
    if (target === undefined || target.role !== metapb.PeerRole.VOTER)
      return ignored("transfer target is not a voter");
    if (!this.isServing(target.storeId) || region.pendingPeerIds.has(target.id)) {
      return ignored(`peer ${target.id} cannot take leadership now`);
    }
    region.leaderPeerId = target.id;
    return { applied: true };
  }

  private applySplit(region: SimulatedRegion, split: pdpb.SplitRegion): ApplyOutcome {
    const keys = split.policy === pdpb.CheckPolicy.USE_KEY ? split.keys : [this.middleKey(region)];
    if (keys.some((key) => key === undefined || !insideRange(region, key)))
      return ignored("split key outside the region");
    const boundaries = [...(keys as Uint8Array[]), region.endKey];
    const newVersion = region.version + BigInt(keys.length);
    const partSize = Math.floor(region.sizeBytes / boundaries.length);
    for (let index = 0; index < keys.length; index++) {
      const leaderStoreId = this.leaderOf(region)?.storeId;
      const peers = region.peers.map((peer) => ({ ...peer, id: this.takeId() }));
      const id = this.takeId();
      this.regionMap.set(id, {
        id,
        startKey: keys[index]!,
        endKey: boundaries[index + 1]!,
        confVer: region.confVer,
        version: newVersion,
        peers,
        leaderPeerId: peers.find((peer) => peer.storeId === leaderStoreId)?.id,
        pendingPeerIds: new Set(),
        sizeBytes: partSize,
      });
    }
    region.endKey = keys[0]!;
    region.version = newVersion;
    region.sizeBytes = partSize;
    return { applied: true };
  }

  private middleKey(region: SimulatedRegion): Uint8Array | undefined {
    const key = new Uint8Array([...region.startKey, 0x80]);
    return insideRange(region, key) ? key : undefined;
  }

  /** A region changed by pd must keep a majority of its voters on serving stores, or it could not elect a leader. */
  private checkQuorum(region: SimulatedRegion): void {
    const voters = region.peers.filter((peer) => peer.role === metapb.PeerRole.VOTER);
    if (voters.length === 0 || !this.hasReachableMajority(region)) {
      const serving = voters.filter((peer) => this.isServing(peer.storeId)).length;
      throw new SimulationInvariantError(
        `region ${region.id} left with ${serving} serving of ${voters.length} voters after a change pd ordered`,
      );
    }
  }

  /** Raft elects a caught-up voter on a serving store, but only while a majority of voters is reachable. */
  private elect(region: SimulatedRegion): void {
    const candidate = region.peers.find(
      (peer) =>
        peer.role === metapb.PeerRole.VOTER &&
        this.isServing(peer.storeId) &&
        !region.pendingPeerIds.has(peer.id),
    );
    region.leaderPeerId = this.hasReachableMajority(region) ? candidate?.id : undefined;
  }

  private hasReachableMajority(region: SimulatedRegion): boolean {
    const voters = region.peers.filter((peer) => peer.role === metapb.PeerRole.VOTER);
    return voters.filter((peer) => this.isServing(peer.storeId)).length > voters.length / 2;
  }

  /** Offline stores are being drained but still run; disconnected, down and tombstone ones do not answer. */
  private isServing(storeId: bigint): boolean {
    const health = this.storeMap.get(storeId)?.health;
    return health === "up" || health === "offline";
  }

  private leaderOf(region: SimulatedRegion): metapb.Peer | undefined {
    return region.peers.find((peer) => peer.id === region.leaderPeerId);
  }

  private toInfo(region: SimulatedRegion): RegionInfo {
    const peers = region.peers.map((peer) => ({ ...peer }));
    const leader = this.leaderOf(region);
    return {
      meta: {
        id: region.id,
        startKey: region.startKey,
        endKey: region.endKey,
        regionEpoch: { confVer: region.confVer, version: region.version },
        peers,
      },
      leader: leader && { ...leader },
      downPeers: peers
        .filter((peer) => !this.isServing(peer.storeId))
        .map((peer) => ({ peer, downSeconds: 600n })),
      pendingPeers: peers.filter((peer) => region.pendingPeerIds.has(peer.id)),
      approximateSizeBytes: region.sizeBytes,
      approximateKeys: 0,
    };
  }

  private toStoreInfo(store: SimulatedStore): StoreInfo {
    let regionCount = 0;
    let leaderCount = 0;
    let regionSizeBytes = 0;
    for (const region of this.regionMap.values()) {
      if (!region.peers.some((peer) => peer.storeId === store.id)) continue;
      regionCount++;
      regionSizeBytes += region.sizeBytes;
      if (this.leaderOf(region)?.storeId === store.id) leaderCount++;
    }
    return {
      meta: metapb.Store.fromPartial({
        id: store.id,
        address: `127.0.0.1:${20_000 + Number(store.id % 10_000n)}`,
        state: store.health === "tombstone" ? metapb.StoreState.TOMBSTONE : metapb.StoreState.UP,
      }),
      health: store.health,
      stopping: store.stopping,
      stats: pdpb.StoreStats.fromPartial({ storeId: store.id, available: BigInt(store.availableBytes) }),
      lastHeartbeatMs: 0,
      regionCount,
      leaderCount,
      regionSizeBytes,
    };
  }

  private requireStore(storeId: bigint): SimulatedStore {
    const store = this.storeMap.get(storeId);
    if (store === undefined) throw new Error(`store ${storeId} is unknown`);
    return store;
  }

  private requireRegion(regionId: bigint): SimulatedRegion {
    const region = this.regionMap.get(regionId);
    if (region === undefined) throw new Error(`region ${regionId} is unknown`);
    return region;
  }

  private takeId(): bigint {
    return this.nextId++;
  }
}

function insideRange(region: SimulatedRegion, key: Uint8Array | undefined): key is Uint8Array {
  return (
    key !== undefined &&
    Buffer.compare(key, region.startKey) > 0 &&
    (region.endKey.length === 0 || Buffer.compare(key, region.endKey) < 0)
  );
}

function ignored(reason: string): ApplyOutcome {
  return { applied: false, reason };
}
