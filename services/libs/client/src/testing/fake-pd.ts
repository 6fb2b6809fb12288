/**
 * Test-only: the part of pd the region cache uses, held in memory with regions, leaders and stores a test
 * controls, counters per call, an optional gate that holds calls until released, and injectable failures.
 * Not exported from the library.
 */
import { compareBytes } from "#codec";
import { metapb } from "#proto";
import type { PdRegion, PdStore } from "../pd/pd-client.ts";
import { PdUnavailableError } from "../pd/pd-errors.ts";
import type { RegionCachePd } from "../region-cache/region-cache.ts";

export function key(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}

export function text(bytes: Uint8Array): string {
  return new TextDecoder().decode(bytes);
}

export class FakePd implements RegionCachePd {
  readonly calls = { getRegion: 0, getRegionById: 0, scanRegions: 0, getStore: 0 };
  readonly stores = new Map<bigint, metapb.Store>();
  /** Regions sorted by start key. */
  regions: metapb.Region[] = [];
  readonly leaders = new Map<bigint, bigint>();
  /** The next this many region calls fail as if pd were unreachable. */
  failuresLeft = 0;
  private gate: Promise<void> | undefined;
  private nextId = 1000n;

  /** Regions split at `splitKeys` with a peer on each of `storeIds`, the first store leading. */
  static withLayout(splitKeys: readonly string[], storeIds: readonly bigint[] = [1n, 2n, 3n]): FakePd {
    const pd = new FakePd();
    for (const storeId of storeIds) pd.setStore(storeId, `store-${storeId}:20160`);
    const bounds = ["", ...splitKeys, ""];
    for (let index = 0; index + 1 < bounds.length; index++) {
      pd.addRegion(key(bounds[index]!), key(bounds[index + 1]!), storeIds);
    }
    return pd;
  }

  setStore(storeId: bigint, address: string, state = metapb.StoreState.UP): void {
    this.stores.set(storeId, metapb.Store.create({ id: storeId, address, state }));
  }

  addRegion(startKey: Uint8Array, endKey: Uint8Array, storeIds: readonly bigint[]): metapb.Region {
    const regionId = this.nextId++;
    const region = metapb.Region.create({
      id: regionId,
      startKey,
      endKey,
      regionEpoch: { confVer: 1n, version: 1n },
      peers: storeIds.map((storeId) => ({ id: this.nextId++, storeId, role: metapb.PeerRole.VOTER })),
    });
    this.regions.push(region);
    this.regions.sort((left, right) => compareBytes(left.startKey, right.startKey));
    if (storeIds[0] !== undefined) this.leaders.set(regionId, storeIds[0]);
    return region;
  }

  /** Splits the region containing `splitKey` as a store would: both halves at version + 1. */
  split(splitKey: string): [metapb.Region, metapb.Region] {
    const index = this.regions.findIndex((region) => contains(region, key(splitKey)));
    const parent = this.regions[index]!;
    const epoch = { confVer: parent.regionEpoch!.confVer, version: parent.regionEpoch!.version + 1n };
    const left = { ...parent, endKey: key(splitKey), regionEpoch: epoch };
    const right = metapb.Region.create({
      ...parent,
      id: this.nextId++,
      startKey: key(splitKey),
      regionEpoch: epoch,
      peers: parent.peers.map((peer) => ({ ...peer, id: this.nextId++ })),
    });
    this.regions.splice(index, 1, left, right);
    this.leaders.set(right.id, this.leaders.get(parent.id)!);
    return [left, right];
  }

  regionAt(at: string): metapb.Region {
    const region = this.regions.find((candidate) => contains(candidate, key(at)));
    if (region === undefined) throw new Error(`no region contains ${at}`);
    return region;
  }

  /** Holds every later call until the returned release function runs. */
  hold(): () => void {
    let release = (): void => {};
    this.gate = new Promise((resolve) => {
      release = () => {
        this.gate = undefined;
        resolve();
      };
    });
    return release;
  }

  async getRegion(regionKey: Uint8Array): Promise<PdRegion | undefined> {
    this.calls.getRegion++;
    await this.pass("GetRegion");
    const region = this.regions.find((candidate) => contains(candidate, regionKey));
    return region === undefined ? undefined : this.pdRegion(region);
  }

  async getRegionById(regionId: bigint): Promise<PdRegion | undefined> {
    this.calls.getRegionById++;
    await this.pass("GetRegionByID");
    const region = this.regions.find((candidate) => candidate.id === regionId);
    return region === undefined ? undefined : this.pdRegion(region);
  }

  async scanRegions(startKey: Uint8Array, endKey: Uint8Array, limit: number): Promise<PdRegion[]> {
    this.calls.scanRegions++;
    await this.pass("ScanRegions");
    const found = this.regions.filter(
      (region) =>
        (region.endKey.length === 0 || compareBytes(region.endKey, startKey) > 0) &&
        (endKey.length === 0 || compareBytes(region.startKey, endKey) < 0),
    );
    return (limit === 0 ? found : found.slice(0, limit)).map((region) => this.pdRegion(region));
  }

  async getStore(storeId: bigint): Promise<PdStore | undefined> {
    this.calls.getStore++;
    await this.pass("GetStore");
    const store = this.stores.get(storeId);
    return store === undefined ? undefined : { store };
  }

  private async pass(operation: string): Promise<void> {
    await this.gate;
    if (this.failuresLeft > 0) {
      this.failuresLeft--;
      throw new PdUnavailableError({ operation, endpoints: ["fake-pd"], lastCause: new Error("refused") });
    }
  }

  private pdRegion(region: metapb.Region): PdRegion {
    const leaderStoreId = this.leaders.get(region.id);
    const leader = region.peers.find((peer) => peer.storeId === leaderStoreId);
    return { region, leader, downPeers: [], pendingPeers: [] };
  }
}

function contains(region: metapb.Region, regionKey: Uint8Array): boolean {
  return (
    compareBytes(region.startKey, regionKey) <= 0 &&
    (region.endKey.length === 0 || compareBytes(regionKey, region.endKey) < 0)
  );
}
