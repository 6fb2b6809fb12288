/**
 * Finds the gRPC address of another store for raft traffic. Addresses come from pd and are cached: a
 * store keeps its address for its life, so one lookup serves until a connection fails, when the caller
 * invalidates the entry and the next lookup asks pd again (a restarted store may listen elsewhere).
 */
import type { PdStore } from "#client";
import { metapb } from "#proto";

export interface StoreResolver {
  /** Rejects with StoreUnresolvableError when the store is unknown, tombstoned or has no address. */
  resolve(storeId: bigint): Promise<string>;
  invalidate(storeId: bigint): void;
}

export class StoreUnresolvableError extends Error {
  override readonly name = "StoreUnresolvableError";

  constructor(
    readonly storeId: bigint,
    readonly reason: string,
  ) {
    super(`cannot resolve the address of store ${storeId}: ${reason}`);
  }
}

/** The slice of the pd client the resolver needs. */
export interface StoreLookup {
  getStore(storeId: bigint): Promise<PdStore | undefined>;
}

export class PdStoreResolver implements StoreResolver {
  private readonly addresses = new Map<bigint, Promise<string>>();

  constructor(private readonly pd: StoreLookup) {}

  resolve(storeId: bigint): Promise<string> {
    let address = this.addresses.get(storeId);
    if (address === undefined) {
      // Concurrent callers share one lookup; a failed lookup is forgotten so the next caller retries.
      const lookup: Promise<string> = this.lookup(storeId).catch((error: unknown) => {
        if (this.addresses.get(storeId) === lookup) this.addresses.delete(storeId);
        throw error;
      });
      address = lookup;
      this.addresses.set(storeId, address);
    }
    return address;
  }

  invalidate(storeId: bigint): void {
    this.addresses.delete(storeId);
  }

  private async lookup(storeId: bigint): Promise<string> {
    const found = await this.pd.getStore(storeId);
    if (found === undefined) throw new StoreUnresolvableError(storeId, "pd does not know it");
    if (found.store.state === metapb.StoreState.TOMBSTONE) {
      throw new StoreUnresolvableError(storeId, "it is a tombstone");
    }
    const address = found.store.peerAddress || found.store.address;
    if (address.length === 0) throw new StoreUnresolvableError(storeId, "pd has no address for it");
    return address;
  }
}
