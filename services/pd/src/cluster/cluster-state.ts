/**
 * The leader's picture of the cluster: stores with their health, and regions in a tree by key. It is
 * rebuilt from MetaStorage whenever this member becomes leader (so metadata survives pd restarts and
 * leader changes), then kept current by store and region heartbeats.
 *
 * Store health follows heartbeats: up → disconnected (silent for `storeDisconnectMs` [20 s]) → down
 * (silent for `storeDownMs` [30 min]). Removal makes a store offline; once no region lives on it, it
 * becomes a tombstone, which is permanent. Durations are measured on the monotonic clock so a wall-clock
 * jump never marks a healthy store down.
 */

import { metapb, type pdpb } from "#proto";
import type { Clock } from "#runtime";
import {
  BOOTSTRAP_KEY,
  type MetaStorage,
  prefixEnd,
  REGION_KEY_PREFIX,
  regionKey,
  STORE_KEY_PREFIX,
  storeKey,
} from "../storage/index.ts";
import {
  InvalidMetadataError,
  NotBootstrappedError,
  StaleLeaderTermError,
  StoreNotFoundError,
  StoreTombstoneError,
} from "./cluster-errors.ts";
import type { ClusterView, RegionInfo, StoreHealth, StoreInfo } from "./cluster-view.ts";
import { validateLeader, validateRegion, validateStore } from "./metadata-validation.ts";
import { MetadataWriter } from "./metadata-writer.ts";
import { RegionTree, type RegionUpdate, StaleRegionError } from "./region-tree.ts";

export interface ClusterStateOptions {
  readonly storage: MetaStorage;
  readonly clock: Clock;
  /** A store silent this long is disconnected [20 s]. */
  readonly storeDisconnectMs: number;
  /** A store silent this long is down and its replicas get repaired elsewhere [30 min]. */
  readonly storeDownMs: number;
}

interface StoreRecord {
  meta: metapb.Store;
  stats: pdpb.StoreStats | undefined;
  /** Wall-clock time of the last heartbeat (registration or load counts as one), for display. */
  lastHeartbeatMs: number;
  /** Monotonic time of the same moment, for health. */
  lastSeenMonotonicMs: number;
}

interface StoreLoad {
  regionCount: number;
  leaderCount: number;
  regionSizeBytes: number;
}

const LOAD_PAGE_SIZE = 256;
const NANOSECONDS_PER_MILLISECOND = 1_000_000n;

export class ClusterState implements ClusterView {
  private readonly storeRecords = new Map<bigint, StoreRecord>();
  private readonly tree = new RegionTree();
  private readonly regionsByStore = new Map<bigint, Map<bigint, RegionInfo>>();
  private readonly leadersByStore = new Map<bigint, Map<bigint, RegionInfo>>();
  private readonly loads = new Map<bigint, StoreLoad>();
  /** Highest raft term each region's leader has reported. */
  private readonly leaderTerms = new Map<bigint, bigint>();
  /** Regions whose last metadata write failed; their next heartbeat writes again. */
  private readonly unpersistedRegions = new Set<bigint>();
  private readonly writer: MetadataWriter;
  private bootstrapped = false;

  constructor(private readonly options: ClusterStateOptions) {
    this.writer = new MetadataWriter(options.storage);
  }

  get isBootstrapped(): boolean {
    return this.bootstrapped;
  }

  get regionCount(): number {
    return this.tree.size;
  }

  /** Replaces the in-memory state with what MetaStorage holds; returns how many stored regions were skipped as stale. */
  async load(): Promise<{ stores: number; regions: number; skippedRegions: number }> {
    this.reset();
    this.bootstrapped = (await this.options.storage.load(BOOTSTRAP_KEY)) !== undefined;
    for await (const value of loadPrefix(this.options.storage, STORE_KEY_PREFIX)) {
      const meta = metapb.Store.decode(value);
      this.storeRecords.set(meta.id, this.newRecord(meta));
    }
    let skippedRegions = 0;
    for await (const value of loadPrefix(this.options.storage, REGION_KEY_PREFIX)) {
      try {
        this.apply(emptyRegionInfo(metapb.Region.decode(value)));
      } catch (error) {
        // Two stored regions can overlap if a split's delete was lost; heartbeats will settle it.
        if (!(error instanceof StaleRegionError)) throw error;
        skippedRegions++;
      }
    }
    return { stores: this.storeRecords.size, regions: this.tree.size, skippedRegions };
  }

  /** Drops everything in memory, e.g. when leadership is lost; `load` fills it again. */
  reset(): void {
    this.storeRecords.clear();
    this.regionsByStore.clear();
    this.leadersByStore.clear();
    this.loads.clear();
    this.unpersistedRegions.clear();
    this.leaderTerms.clear();
    for (const region of [...this.tree.all()]) this.tree.remove(region.meta.id);
    this.bootstrapped = false;
  }

  /** Persists the bootstrap marker, first store and first region in one atomic write, then applies them. */
  async bootstrap(cluster: metapb.Cluster, store: metapb.Store, region: metapb.Region): Promise<void> {
    await this.options.storage.saveBatch([
      { key: storeKey(store.id), value: metapb.Store.encode(store).finish() },
      { key: regionKey(region.id), value: metapb.Region.encode(region).finish() },
      { key: BOOTSTRAP_KEY, value: metapb.Cluster.encode(cluster).finish() },
    ]);
    this.storeRecords.set(store.id, this.newRecord(store));
    this.apply(emptyRegionInfo(region));
    this.bootstrapped = true;
  }

  // ---- ClusterView ----

  stores(): readonly StoreInfo[] {
    return [...this.storeRecords.values()].map((record) => this.storeInfo(record));
  }

  store(storeId: bigint): StoreInfo | undefined {
    const record = this.storeRecords.get(storeId);
    return record === undefined ? undefined : this.storeInfo(record);
  }

  regions(): Iterable<RegionInfo> {
    return this.tree.all();
  }

  region(regionId: bigint): RegionInfo | undefined {
    return this.tree.getById(regionId);
  }

  regionsOnStore(storeId: bigint): Iterable<RegionInfo> {
    return this.regionsByStore.get(storeId)?.values() ?? [];
  }

  leaderRegionsOnStore(storeId: bigint): Iterable<RegionInfo> {
    return this.leadersByStore.get(storeId)?.values() ?? [];
  }

  // ---- lookups ----

  regionByKey(key: Uint8Array): RegionInfo | undefined {
    return this.tree.getByKey(key);
  }

  scanRegions(startKey: Uint8Array, endKey: Uint8Array, limit: number): RegionInfo[] {
    return this.tree.scan(startKey, endKey, limit);
  }

  // ---- stores ----

  /** Registers a store or updates its addresses and labels; a tombstone can never come back. */
  async putStore(store: metapb.Store | undefined): Promise<void> {
    validateStore(store);
    this.requireBootstrapped();
    const existing = this.storeRecords.get(store.id);
    if (existing?.meta.state === metapb.StoreState.TOMBSTONE) throw new StoreTombstoneError(store.id);
    this.rejectDuplicateAddress(store);
    // A restarting store reports itself up; an operator's offline mark must survive that.
    const state =
      existing?.meta.state === metapb.StoreState.OFFLINE && store.state === metapb.StoreState.UP
        ? metapb.StoreState.OFFLINE
        : store.state;
    const meta: metapb.Store = { ...store, state, lastHeartbeat: existing?.meta.lastHeartbeat ?? 0n };
    await this.writer.put(storeKey(meta.id), metapb.Store.encode(meta).finish());
    if (existing === undefined) this.storeRecords.set(meta.id, this.newRecord(meta));
    else existing.meta = meta;
  }

  async storeHeartbeat(stats: pdpb.StoreStats | undefined): Promise<StoreInfo> {
    if (stats === undefined) throw new InvalidMetadataError("store heartbeat", "it carries no stats");
    this.requireBootstrapped();
    const record = this.storeRecords.get(stats.storeId);
    if (record === undefined) throw new StoreNotFoundError(stats.storeId);
    if (record.meta.state === metapb.StoreState.TOMBSTONE) throw new StoreTombstoneError(stats.storeId);
    record.stats = stats;
    record.lastHeartbeatMs = this.options.clock.nowMs();
    record.lastSeenMonotonicMs = this.options.clock.monotonicMs();
    record.meta = {
      ...record.meta,
      lastHeartbeat: BigInt(record.lastHeartbeatMs) * NANOSECONDS_PER_MILLISECOND,
    };
    return this.storeInfo(record);
  }

  /** Starts removing a store: offline now, tombstone once no region lives on it. */
  async removeStore(storeId: bigint): Promise<StoreInfo> {
    const record = this.storeRecords.get(storeId);
    if (record === undefined) throw new StoreNotFoundError(storeId);
    if (record.meta.state === metapb.StoreState.UP) {
      await this.setStoreState(record, metapb.StoreState.OFFLINE);
    }
    await this.tombstoneEmptyOfflineStores();
    return this.storeInfo(record);
  }

  /** Offline stores that no longer hold any region become tombstones; called periodically by the server. */
  async tombstoneEmptyOfflineStores(): Promise<bigint[]> {
    const emptied = [...this.storeRecords.values()].filter(
      (record) =>
        record.meta.state === metapb.StoreState.OFFLINE &&
        (this.regionsByStore.get(record.meta.id)?.size ?? 0) === 0,
    );
    for (const record of emptied) await this.setStoreState(record, metapb.StoreState.TOMBSTONE);
    return emptied.map((record) => record.meta.id);
  }

  // ---- regions ----

  /**
   * Applies a leader's report. Rejects a malformed region (InvalidMetadataError), a stale epoch
   * (StaleRegionError) or, at the same epoch, a report from an older raft term than one already seen
   * (StaleLeaderTermError: a deposed leader); persists the region when its metadata changed and drops
   * the regions it covers. `term` 0 means unknown and is not checked.
   */
  async regionHeartbeat(info: RegionInfo, term = 0n): Promise<RegionUpdate> {
    validateRegion(info.meta);
    validateLeader(info.meta, info.leader);
    this.requireBootstrapped();
    this.rejectOlderTerm(info.meta, term);
    const update = this.apply(info);
    if (term > 0n) this.leaderTerms.set(info.meta.id, term);
    for (const removed of update.removed) this.leaderTerms.delete(removed.meta.id);
    const changed =
      update.previous === undefined ||
      !sameRegionMeta(update.previous.meta, info.meta) ||
      this.unpersistedRegions.has(info.meta.id);
    if (changed || update.removed.length > 0) await this.persistRegion(info.meta, update.removed, changed);
    return update;
  }

  /** The regions a split produced: applied like heartbeats, keeping what pd already knew about their leaders. */
  async reportSplit(regions: readonly metapb.Region[]): Promise<void> {
    if (regions.length === 0) throw new InvalidMetadataError("split report", "it lists no regions");
    for (const region of regions) validateRegion(region);
    for (const region of regions) {
      const known = this.tree.getById(region.id);
      const leader = known?.leader;
      const keepsLeader = leader !== undefined && region.peers.some((peer) => peer.id === leader.id);
      await this.regionHeartbeat({
        ...(known ?? emptyRegionInfo(region)),
        meta: region,
        leader: keepsLeader ? leader : undefined,
      });
    }
  }

  // ---- internals ----

  private rejectOlderTerm(region: metapb.Region & { regionEpoch: metapb.RegionEpoch }, term: bigint): void {
    const knownTerm = this.leaderTerms.get(region.id);
    const knownEpoch = this.tree.getById(region.id)?.meta.regionEpoch;
    if (term === 0n || knownTerm === undefined || knownEpoch === undefined || term >= knownTerm) return;
    const sameEpoch =
      region.regionEpoch.version === knownEpoch.version && region.regionEpoch.confVer === knownEpoch.confVer;
    if (sameEpoch) throw new StaleLeaderTermError(region.id, term, knownTerm);
  }

  private apply(info: RegionInfo): RegionUpdate {
    const update = this.tree.update(info);
    if (update.previous !== undefined) this.unindex(update.previous);
    for (const removed of update.removed) this.unindex(removed);
    this.index(info);
    return update;
  }

  private async persistRegion(
    region: metapb.Region,
    removed: readonly RegionInfo[],
    changed: boolean,
  ): Promise<void> {
    const writes = removed.map((other) => this.writer.delete(regionKey(other.meta.id)));
    if (changed) writes.push(this.writer.put(regionKey(region.id), metapb.Region.encode(region).finish()));
    try {
      await Promise.all(writes);
      this.unpersistedRegions.delete(region.id);
    } catch (error) {
      this.unpersistedRegions.add(region.id);
      throw error;
    }
  }

  private index(info: RegionInfo): void {
    for (const peer of info.meta.peers) {
      mapFor(this.regionsByStore, peer.storeId).set(info.meta.id, info);
      const load = this.loadOf(peer.storeId);
      load.regionCount++;
      load.regionSizeBytes += info.approximateSizeBytes;
    }
    if (info.leader !== undefined && info.leader.id !== 0n) {
      mapFor(this.leadersByStore, info.leader.storeId).set(info.meta.id, info);
      this.loadOf(info.leader.storeId).leaderCount++;
    }
  }

  private unindex(info: RegionInfo): void {
    for (const peer of info.meta.peers) {
      if (this.regionsByStore.get(peer.storeId)?.delete(info.meta.id)) {
        const load = this.loadOf(peer.storeId);
        load.regionCount--;
        load.regionSizeBytes -= info.approximateSizeBytes;
      }
    }
    if (info.leader !== undefined && this.leadersByStore.get(info.leader.storeId)?.delete(info.meta.id)) {
      this.loadOf(info.leader.storeId).leaderCount--;
    }
  }

  private loadOf(storeId: bigint): StoreLoad {
    let load = this.loads.get(storeId);
    if (load === undefined) {
      load = { regionCount: 0, leaderCount: 0, regionSizeBytes: 0 };
      this.loads.set(storeId, load);
    }
    return load;
  }

  private storeInfo(record: StoreRecord): StoreInfo {
    const load = this.loads.get(record.meta.id);
    return {
      meta: record.meta,
      health: this.health(record),
      stopping: record.stats?.isStopping ?? false,
      stats: record.stats,
      lastHeartbeatMs: record.lastHeartbeatMs,
      regionCount: load?.regionCount ?? 0,
      leaderCount: load?.leaderCount ?? 0,
      regionSizeBytes: load?.regionSizeBytes ?? 0,
    };
  }

  private health(record: StoreRecord): StoreHealth {
    if (record.meta.state === metapb.StoreState.TOMBSTONE) return "tombstone";
    const silentMs = this.options.clock.monotonicMs() - record.lastSeenMonotonicMs;
    if (silentMs >= this.options.storeDownMs) return "down";
    if (record.meta.state === metapb.StoreState.OFFLINE) return "offline";
    if (silentMs >= this.options.storeDisconnectMs) return "disconnected";
    return "up";
  }

  private newRecord(meta: metapb.Store): StoreRecord {
    // A store pd just learned about (or reloaded) gets a full grace period before it can look down.
    return {
      meta,
      stats: undefined,
      lastHeartbeatMs: this.options.clock.nowMs(),
      lastSeenMonotonicMs: this.options.clock.monotonicMs(),
    };
  }

  private async setStoreState(record: StoreRecord, state: metapb.StoreState): Promise<void> {
    const meta = { ...record.meta, state };
    await this.writer.put(storeKey(meta.id), metapb.Store.encode(meta).finish());
    record.meta = meta;
  }

  private rejectDuplicateAddress(store: metapb.Store): void {
    for (const other of this.storeRecords.values()) {
      if (
        other.meta.id !== store.id &&
        other.meta.address === store.address &&
        other.meta.state !== metapb.StoreState.TOMBSTONE
      ) {
        throw new InvalidMetadataError(
          `store ${store.id}`,
          `address ${store.address} is already used by store ${other.meta.id}`,
        );
      }
    }
  }

  private requireBootstrapped(): void {
    if (!this.bootstrapped) throw new NotBootstrappedError();
  }
}

/** A region known only by its metadata (loaded from storage or reported by a split), with no leader yet. */
export function emptyRegionInfo(meta: metapb.Region): RegionInfo {
  return { meta, downPeers: [], pendingPeers: [], approximateSizeBytes: 0, approximateKeys: 0 };
}

export function regionInfoFromHeartbeat(request: pdpb.RegionHeartbeatRequest): RegionInfo {
  validateRegion(request.region);
  return {
    meta: request.region,
    leader: request.leader,
    downPeers: request.downPeers,
    pendingPeers: request.pendingPeers,
    approximateSizeBytes: Number(request.approximateSize),
    approximateKeys: Number(request.approximateKeys),
  };
}

function sameRegionMeta(left: metapb.Region, right: metapb.Region): boolean {
  return (
    left.id === right.id &&
    Buffer.compare(left.startKey, right.startKey) === 0 &&
    Buffer.compare(left.endKey, right.endKey) === 0 &&
    left.regionEpoch?.version === right.regionEpoch?.version &&
    left.regionEpoch?.confVer === right.regionEpoch?.confVer &&
    left.peers.length === right.peers.length &&
    left.peers.every((peer, index) => {
      const other = right.peers[index]!;
      return peer.id === other.id && peer.storeId === other.storeId && peer.role === other.role;
    })
  );
}

function mapFor<Key, Value>(maps: Map<bigint, Map<Key, Value>>, storeId: bigint): Map<Key, Value> {
  let map = maps.get(storeId);
  if (map === undefined) {
    map = new Map();
    maps.set(storeId, map);
  }
  return map;
}

async function* loadPrefix(storage: MetaStorage, prefix: string): AsyncGenerator<Uint8Array> {
  const end = prefixEnd(prefix);
  let start = prefix;
  // Bounded by the number of stored keys: each page advances past the last key it returned.
  for (;;) {
    const page = await storage.loadRange(start, end, LOAD_PAGE_SIZE);
    for (const entry of page) yield entry.value;
    if (page.length < LOAD_PAGE_SIZE) return;
    start = `${page.at(-1)!.key}\u0000`;
  }
}
