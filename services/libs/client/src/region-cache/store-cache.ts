/**
 * What the client knows of each store: its address and a failure epoch. A failed send bumps the epoch
 * once, which marks every cached region routed through the store as stale in one step (each region
 * remembers the epochs it saw), and flags the address for re-resolution, since a store that stopped
 * answering may have come back elsewhere (a rescheduled pod keeps its id but not its IP).
 */
import type { Logger } from "#observability";
import { metapb } from "#proto";
import { InvariantError } from "#runtime";
import type { PdClient } from "../pd/pd-client.ts";
import { SingleFlight } from "./single-flight.ts";

export type StoreCachePd = Pick<PdClient, "getStore">;

interface StoreEntry {
  failureEpoch: number;
  address: string | undefined;
  /** Set by a failure or a missing store: the next use asks pd again before trusting the address. */
  needsResolve: boolean;
}

export class StoreCache {
  private readonly stores = new Map<bigint, StoreEntry>();
  private readonly resolves = new SingleFlight<void>();

  constructor(
    private readonly pd: StoreCachePd,
    private readonly logger?: Logger,
  ) {}

  epochOf(storeId: bigint): number {
    return this.entry(storeId).failureEpoch;
  }

  /**
   * The store's address, asking pd when it was never resolved or is marked for re-resolution. undefined
   * when pd no longer knows the store or it is a tombstone. Throws pd errors only when no address was
   * known before; otherwise the old address is used until pd answers.
   */
  async resolveAddress(storeId: bigint): Promise<string | undefined> {
    const entry = this.entry(storeId);
    if (entry.address !== undefined && !entry.needsResolve) return entry.address;
    try {
      await this.resolves.run(String(storeId), () => this.askPd(storeId, entry));
    } catch (error) {
      if (entry.address === undefined || error instanceof InvariantError) throw error;
      this.logger?.warn(
        { storeId: String(storeId), err: error },
        "store re-resolve failed; using old address",
      );
    }
    return entry.address;
  }

  /**
   * Reports a failed send through a context made at `epochSeen`. Only the first report per epoch bumps
   * it; later reports from contexts made before the bump are stale (their regions are already marked).
   * Returns whether this report bumped the epoch.
   */
  markFailed(storeId: bigint, epochSeen: number): boolean {
    const entry = this.entry(storeId);
    entry.needsResolve = true;
    if (entry.failureEpoch !== epochSeen) return false;
    entry.failureEpoch++;
    return true;
  }

  clear(): void {
    this.stores.clear();
  }

  private async askPd(storeId: bigint, entry: StoreEntry): Promise<void> {
    const found = await this.pd.getStore(storeId);
    const store = found?.store;
    if (store === undefined || store.state === metapb.StoreState.TOMBSTONE || store.address === "") {
      this.logger?.info({ storeId: String(storeId) }, "store is gone from pd");
      entry.address = undefined;
      return;
    }
    if (entry.address !== undefined && entry.address !== store.address) {
      this.logger?.info(
        { storeId: String(storeId), oldAddress: entry.address, newAddress: store.address },
        "store address changed",
      );
    }
    entry.address = store.address;
    entry.needsResolve = false;
  }

  private entry(storeId: bigint): StoreEntry {
    let entry = this.stores.get(storeId);
    if (entry === undefined) {
      entry = { failureEpoch: 0, address: undefined, needsResolve: true };
      this.stores.set(storeId, entry);
    }
    return entry;
  }
}
