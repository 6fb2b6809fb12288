/**
 * The client's map from keys to regions, peers and store addresses (seed 003's behaviour, written anew).
 * Filled lazily from pd and corrected by the errors stores return:
 * - regions sit in a tree ordered by start key plus maps by RegionVerId and by id; an entry unused for a
 *   TTL (plus jitter) is reloaded, so a cache never serves arbitrarily old routing;
 * - NotLeader with a hint moves the work peer at once; EpochNotMatch installs the regions the store sent;
 * - a failed send bumps the store's failure epoch, which retires every region routed to it on next use.
 * Everything runs on the caller's turn: there is no background task, so close() only drops state.
 */
import { compareBytes } from "#codec";
import type { Logger } from "#observability";
import { kvrpcpb, metapb } from "#proto";
import { type Clock, InvariantError, type Random } from "#runtime";
import { BackoffKinds } from "../backoff/backoff-kind.ts";
import type { Backoffer } from "../backoff/backoffer.ts";
import type { PdClient, PdRegion } from "../pd/pd-client.ts";
import { PdServerError, PdUnavailableError } from "../pd/pd-errors.ts";
import { CachedRegion } from "./cached-region.ts";
import { type KeyLocation, locationContains } from "./key-location.ts";
import { RegionMissError } from "./region-cache-errors.ts";
import { RegionTree } from "./region-tree.ts";
import type { RegionVerId } from "./region-ver-id.ts";
import type { ReplicaReadMode, RpcContext } from "./rpc-context.ts";
import { SingleFlight } from "./single-flight.ts";
import { StoreCache } from "./store-cache.ts";

/** The part of the pd client the cache uses (a test can fake just this). */
export type RegionCachePd = Pick<PdClient, "getRegion" | "getRegionById" | "scanRegions" | "getStore">;

export const DEFAULT_REGION_CACHE_TTL_MS = 600_000;
export const DEFAULT_REGION_CACHE_TTL_JITTER_MS = 60_000;
export const DEFAULT_SCAN_BATCH_SIZE = 128;

export interface RegionCacheOptions {
  readonly pd: RegionCachePd;
  readonly clock: Clock;
  readonly random: Random;
  /** An entry not used for this long is reloaded from pd on its next use [600 s]. */
  readonly ttlMs?: number;
  /** Each use extends the TTL by ttlMs plus uniform [0, ttlJitterMs], so entries do not expire in herds [60 s]. */
  readonly ttlJitterMs?: number;
  /** Regions asked of pd per ScanRegions call when a range is located [128]. */
  readonly scanBatchSize?: number;
  readonly logger?: Logger;
  /** Called on every cache lookup by key or id, e.g. for client_region_cache_lookups_total{result}. */
  readonly onLookup?: (result: "hit" | "miss") => void;
}

export interface KeyGroup {
  readonly location: KeyLocation;
  readonly keys: Uint8Array[];
}

export type NotLeaderOutcome = "switched" | "invalidated";

export type EpochNotMatchOutcome = "updated" | "invalidated" | "storeBehind";

export class RegionCache {
  private readonly pd: RegionCachePd;
  private readonly clock: Clock;
  private readonly random: Random;
  private readonly ttlMs: number;
  private readonly ttlJitterMs: number;
  private readonly scanBatchSize: number;
  private readonly logger: Logger | undefined;
  private readonly onLookup: ((result: "hit" | "miss") => void) | undefined;
  private readonly tree = new RegionTree();
  private readonly byVerId = new Map<string, CachedRegion>();
  private readonly byId = new Map<bigint, CachedRegion>();
  private readonly stores: StoreCache;
  private readonly loads = new SingleFlight<CachedRegion | undefined>();

  constructor(options: RegionCacheOptions) {
    this.pd = options.pd;
    this.clock = options.clock;
    this.random = options.random;
    this.ttlMs = nonNegativeInteger("ttlMs", options.ttlMs ?? DEFAULT_REGION_CACHE_TTL_MS);
    this.ttlJitterMs = nonNegativeInteger(
      "ttlJitterMs",
      options.ttlJitterMs ?? DEFAULT_REGION_CACHE_TTL_JITTER_MS,
    );
    this.scanBatchSize = nonNegativeInteger(
      "scanBatchSize",
      options.scanBatchSize ?? DEFAULT_SCAN_BATCH_SIZE,
    );
    if (this.scanBatchSize === 0) throw new RangeError("RegionCache scanBatchSize must be at least 1");
    this.logger = options.logger;
    this.onLookup = options.onLookup;
    this.stores = new StoreCache(options.pd, options.logger);
  }

  /** Regions cached now (expired ones included until replaced). */
  get size(): number {
    return this.tree.size;
  }

  /** The region containing `key`, from the cache or pd; pd failures back off as pdRPC, no region as regionMiss. */
  async locateKey(key: Uint8Array, backoffer: Backoffer): Promise<KeyLocation> {
    for (;;) {
      const cached = this.lookup(this.tree.find(key));
      if (cached !== undefined) return cached.location;
      const loaded = await this.loadOnce(`key:${toHex(key)}`, backoffer, () => this.pd.getRegion(key));
      if (loaded !== undefined && locationContains(loaded.location, key)) return loaded.location;
      await backoffer.backoff(
        BackoffKinds.regionMiss,
        new RegionMissError(
          loaded === undefined ? "pd has no region" : "pd returned a region not containing it",
          {
            keyHex: toHex(key),
          },
        ),
      );
    }
  }

  /** For reverse scans: the region containing the keys just below `key` (an empty key means +infinity). */
  async locateEndKey(key: Uint8Array, backoffer: Backoffer): Promise<KeyLocation> {
    const cached = this.lookup(this.tree.findByEnd(key));
    if (cached !== undefined) return cached.location;
    if (key.length > 0) {
      const containing = await this.locateKey(key, backoffer);
      if (compareBytes(containing.startKey, key) < 0) return containing;
    }
    // `key` is a region boundary (or +infinity): pd cannot look up "the key just below", so scan up to it
    // from the nearest region we know starts below it.
    const lowerBound = this.tree.lastStartingBefore(key)?.meta.startKey ?? new Uint8Array();
    const covering = await this.locateRange(lowerBound, key, backoffer);
    const last = covering.at(-1);
    if (last === undefined) throw new RegionMissError("no region ends at this key", { keyHex: toHex(key) });
    return last;
  }

  /** The region with this id; fails with RegionMissError at once when pd does not know it (merged away). */
  async locateRegionById(regionId: bigint, backoffer: Backoffer): Promise<KeyLocation> {
    const cached = this.lookup(this.byId.get(regionId));
    if (cached !== undefined) return cached.location;
    const loaded = await this.loadOnce(`id:${regionId}`, backoffer, () => this.pd.getRegionById(regionId));
    if (loaded === undefined) throw new RegionMissError("pd does not know it", { regionId });
    return loaded.location;
  }

  /**
   * The regions covering [startKey, endKey) in key order (empty endKey = unbounded), at most `limit` of
   * them; misses are loaded from pd scanBatchSize regions per call.
   */
  async locateRange(
    startKey: Uint8Array,
    endKey: Uint8Array,
    backoffer: Backoffer,
    limit = Number.POSITIVE_INFINITY,
  ): Promise<KeyLocation[]> {
    if (endKey.length > 0 && compareBytes(startKey, endKey) > 0) {
      throw new RangeError(`locateRange start ${toHex(startKey)} is after end ${toHex(endKey)}`);
    }
    if (!(limit >= 0)) throw new RangeError(`locateRange limit must be >= 0, got ${limit}`);
    const locations: KeyLocation[] = [];
    let key = startKey;
    while (locations.length < limit && (endKey.length === 0 || compareBytes(key, endKey) < 0)) {
      const cached = this.lookup(this.tree.find(key));
      if (cached === undefined) {
        await this.loadBatch(key, endKey, limit - locations.length, backoffer);
        continue;
      }
      locations.push(cached.location);
      if (cached.meta.endKey.length === 0) break;
      key = cached.meta.endKey;
    }
    return locations;
  }

  /** Keys grouped by region, keyed by RegionVerId.key, groups and their keys in input order. */
  async groupKeysByRegion(keys: readonly Uint8Array[], backoffer: Backoffer): Promise<Map<string, KeyGroup>> {
    const groups = new Map<string, KeyGroup>();
    let current: KeyGroup | undefined;
    for (const key of keys) {
      if (current === undefined || !locationContains(current.location, key)) {
        const location = await this.locateKey(key, backoffer);
        current = groups.get(location.region.key) ?? { location, keys: [] };
        groups.set(location.region.key, current);
      }
      current.keys.push(key);
    }
    return groups;
  }

  /**
   * Where to send a request for `region` now, or undefined when the region is no longer cached or valid
   * (expired, invalidated, its peer's store failed since it was cached, the store is gone, or the store
   * address cannot be resolved): the caller backs off (regionMiss) and locates again. For follower and
   * mixed reads `seed` picks the replica (a retry passes another seed to rotate); without one the cache
   * draws a random seed.
   */
  async getRpcContext(
    region: RegionVerId,
    replicaRead: ReplicaReadMode = "leader",
    seed?: number,
  ): Promise<RpcContext | undefined> {
    const entry = this.byVerId.get(region.key);
    if (entry === undefined || !this.touch(entry)) return undefined;
    const peerIndex = this.choosePeerIndex(entry, replicaRead, seed ?? this.random.nextUint32());
    const peer = entry.peers[peerIndex]!;
    const storeEpoch = this.stores.epochOf(peer.storeId);
    if (storeEpoch !== entry.storeEpochs[peerIndex]) {
      this.remove(entry, `store ${peer.storeId} failed since the region was cached`);
      return undefined;
    }
    const address = await this.resolveAddress(entry, peer.storeId);
    if (address === undefined) return undefined;
    return {
      region: entry.verId,
      meta: entry.meta,
      peer,
      storeId: peer.storeId,
      address,
      storeEpoch,
      replicaRead,
      kvContext: kvrpcpb.Context.create({
        regionId: entry.meta.id,
        regionEpoch: entry.meta.regionEpoch,
        peer,
        replicaRead: replicaRead !== "leader",
      }),
    };
  }

  /**
   * NotLeader from the store. With a hint naming another voter of the cached region the work peer
   * switches to it at once ("switched": retry without backoff). Without a hint, with a hint outside the
   * cached region (it changed) or naming the very peer that refused, the region is invalidated
   * ("invalidated": back off regionMiss and locate again).
   */
  onNotLeader(context: RpcContext, leader?: metapb.Peer): NotLeaderOutcome {
    const entry = this.byVerId.get(context.region.key);
    if (entry === undefined) return "invalidated";
    const leaderIndex = leader === undefined ? -1 : entry.peerIndexOnStore(leader.storeId);
    const hinted = entry.peers[leaderIndex];
    if (
      hinted === undefined ||
      hinted.role === metapb.PeerRole.LEARNER ||
      hinted.storeId === context.storeId
    ) {
      this.remove(
        entry,
        leader === undefined ? "NotLeader without a leader hint" : "NotLeader hint not usable",
      );
      return "invalidated";
    }
    entry.workPeerIndex = leaderIndex;
    return "switched";
  }

  /**
   * EpochNotMatch: caches the regions the store returned (e.g. both halves of a split), evicting what they
   * overlap, and drops the stale one ("updated": retry at once). With none returned the region is just
   * invalidated ("invalidated": retry at once, relocating through pd). When the store's view of this very
   * region is older than the context's, its apply lags behind pd, and nothing changes ("storeBehind": back
   * off regionMiss, then retry). Returned regions older than cached ones are ignored.
   */
  onEpochNotMatch(context: RpcContext, currentRegions: readonly metapb.Region[]): EpochNotMatchOutcome {
    if (currentRegions.some((meta) => isOlderThan(meta, context.region))) return "storeBehind";
    if (currentRegions.length === 0) {
      this.invalidateRegion(context.region);
      return "invalidated";
    }
    const preferredStoreId = context.replicaRead === "leader" ? context.storeId : undefined;
    let contextRegionStillCurrent = false;
    for (const meta of currentRegions) {
      const inserted = this.insert(meta, preferredStoreId);
      if (inserted?.meta === meta && inserted.verId.equals(context.region)) contextRegionStillCurrent = true;
    }
    if (!contextRegionStillCurrent) this.invalidateRegion(context.region);
    return "updated";
  }

  /**
   * The request could not be sent to the context's store: bumps the store's failure epoch (once per epoch,
   * so contexts made before the bump do not bump it again), which retires every cached region routed to
   * that store on its next use; marks the store's address for re-resolution from pd; and moves this
   * region's work peer to the next voter if the failed peer was it (unless the entry was cached after
   * the failure, i.e. the report is stale).
   */
  onSendFail(context: RpcContext, cause: Error): void {
    if (this.stores.markFailed(context.storeId, context.storeEpoch)) {
      this.logger?.info(
        { storeId: String(context.storeId), address: context.address, err: cause },
        "send to store failed; its cached regions will be reloaded",
      );
    }
    const entry = this.byVerId.get(context.region.key);
    if (entry === undefined) return;
    const failedIndex = entry.peerIndexOnStore(context.storeId);
    // An entry cached after the failure (it saw a newer epoch) was routed with that knowledge already.
    const cachedBeforeFailure = entry.storeEpochs[failedIndex] === context.storeEpoch;
    if (cachedBeforeFailure && failedIndex === entry.workPeerIndex) {
      entry.workPeerIndex = entry.nextVoterIndex(failedIndex);
    }
  }

  /** Drops the region: the next locate reloads it from pd. */
  invalidateRegion(region: RegionVerId): void {
    const entry = this.byVerId.get(region.key);
    if (entry !== undefined) this.remove(entry, "invalidated");
  }

  /** RegionNotFound from a store: the store no longer has the region, so the cached view is wrong. */
  onRegionNotFound(region: RegionVerId): void {
    this.invalidateRegion(region);
  }

  /** Drops every entry and store; later calls still work (they reload from pd). */
  close(): void {
    this.tree.clear();
    this.byVerId.clear();
    this.byId.clear();
    this.stores.clear();
  }

  /** The entry if it is fresh (extending its TTL), reporting a hit or miss. */
  private lookup(entry: CachedRegion | undefined): CachedRegion | undefined {
    const fresh = entry !== undefined && this.touch(entry) ? entry : undefined;
    this.onLookup?.(fresh === undefined ? "miss" : "hit");
    return fresh;
  }

  private touch(entry: CachedRegion): boolean {
    const nowMs = this.clock.monotonicMs();
    if (entry.isExpired(nowMs)) return false;
    entry.extendUntil(this.expiryFrom(nowMs));
    return true;
  }

  private expiryFrom(nowMs: number): number {
    return nowMs + this.ttlMs + this.random.intBelow(this.ttlJitterMs + 1);
  }

  /** One pd lookup shared by concurrent callers; pd failures are backed off per caller and retried. */
  private loadOnce(
    flightKey: string,
    backoffer: Backoffer,
    fetch: () => Promise<PdRegion | undefined>,
  ): Promise<CachedRegion | undefined> {
    return this.askPd(backoffer, () =>
      this.loads.run(flightKey, async () => {
        const found = await fetch();
        return found === undefined ? undefined : this.insert(found.region, found.leader?.storeId);
      }),
    );
  }

  private async loadBatch(
    key: Uint8Array,
    endKey: Uint8Array,
    remaining: number,
    backoffer: Backoffer,
  ): Promise<void> {
    const batchSize = Math.min(this.scanBatchSize, remaining);
    const regions = await this.askPd(backoffer, () => this.pd.scanRegions(key, endKey, batchSize));
    for (const found of regions) this.insert(found.region, found.leader?.storeId);
    const covering = this.tree.find(key);
    if (covering === undefined || covering.isExpired(this.clock.monotonicMs())) {
      await backoffer.backoff(
        BackoffKinds.regionMiss,
        new RegionMissError("pd scan returned no region containing it", { keyHex: toHex(key) }),
      );
    }
  }

  private async askPd<T>(backoffer: Backoffer, call: () => Promise<T>): Promise<T> {
    for (;;) {
      try {
        return await call();
      } catch (error) {
        if (!(error instanceof PdUnavailableError || error instanceof PdServerError)) throw error;
        await backoffer.backoff(BackoffKinds.pdRPC, error);
      }
    }
  }

  /**
   * Caches `meta` with its work peer on `preferredStoreId` (else the first voter), evicting the regions it
   * overlaps. Returns the entry now covering it: the new one, a newer cached one of the same region, or
   * undefined when `meta` has no peers to send to.
   */
  private insert(meta: metapb.Region, preferredStoreId: bigint | undefined): CachedRegion | undefined {
    if (meta.peers.length === 0) return undefined;
    const existing = this.byId.get(meta.id);
    const nowMs = this.clock.monotonicMs();
    if (existing !== undefined && !existing.isExpired(nowMs) && existing.isNewerThan(meta)) return existing;
    const storeEpochs = meta.peers.map((peer) => this.stores.epochOf(peer.storeId));
    const entry = new CachedRegion(
      meta,
      storeEpochs,
      workPeerIndexFor(meta, preferredStoreId),
      this.expiryFrom(nowMs),
    );
    for (const evicted of this.tree.insert(entry)) this.forget(evicted);
    this.byVerId.set(entry.verId.key, entry);
    this.byId.set(meta.id, entry);
    return entry;
  }

  private remove(entry: CachedRegion, reason: string): void {
    this.logger?.debug({ regionId: String(entry.meta.id), reason }, "region dropped from cache");
    this.tree.remove(entry);
    this.forget(entry);
  }

  private forget(entry: CachedRegion): void {
    if (this.byVerId.get(entry.verId.key) === entry) this.byVerId.delete(entry.verId.key);
    if (this.byId.get(entry.meta.id) === entry) this.byId.delete(entry.meta.id);
  }

  /** leader: the work peer. follower: a non-work peer from `seed` on. mixed: any peer from `seed` on. */
  private choosePeerIndex(entry: CachedRegion, mode: ReplicaReadMode, seed: number): number {
    if (mode === "leader") return entry.workPeerIndex;
    const candidates = entry.peers
      .map((_, index) => index)
      .filter((index) => mode === "mixed" || index !== entry.workPeerIndex);
    // Skip replicas whose store failed since the region was cached; the work peer is the fallback.
    for (let step = 0; step < candidates.length; step++) {
      const index = candidates[(seed + step) % candidates.length]!;
      if (this.stores.epochOf(entry.peers[index]!.storeId) === entry.storeEpochs[index]) return index;
    }
    return entry.workPeerIndex;
  }

  /** The store's address; undefined (with the region dropped if the store is gone) when unusable. */
  private async resolveAddress(entry: CachedRegion, storeId: bigint): Promise<string | undefined> {
    try {
      const address = await this.stores.resolveAddress(storeId);
      if (address === undefined) this.remove(entry, `store ${storeId} is gone`);
      return address;
    } catch (error) {
      if (error instanceof InvariantError) throw error;
      this.logger?.warn({ storeId: String(storeId), err: error }, "cannot resolve store address");
      return undefined;
    }
  }
}

function workPeerIndexFor(meta: metapb.Region, preferredStoreId: bigint | undefined): number {
  const preferred = meta.peers.findIndex(
    (peer) => peer.storeId === preferredStoreId && peer.role !== metapb.PeerRole.LEARNER,
  );
  if (preferred !== -1) return preferred;
  return Math.max(
    0,
    meta.peers.findIndex((peer) => peer.role !== metapb.PeerRole.LEARNER),
  );
}

/** True when `meta` is `region` at an older epoch. */
function isOlderThan(meta: metapb.Region, region: RegionVerId): boolean {
  const version = meta.regionEpoch?.version ?? 0n;
  const confVer = meta.regionEpoch?.confVer ?? 0n;
  return meta.id === region.id && (version < region.version || confVer < region.confVer);
}

function nonNegativeInteger(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`RegionCache ${name} must be an integer >= 0, got ${value}`);
  }
  return value;
}

function toHex(key: Uint8Array): string {
  return Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString("hex");
}
