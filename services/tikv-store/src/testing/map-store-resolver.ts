import { type StoreResolver, StoreUnresolvableError } from "../server/store-resolver.ts";

/** A resolver over a map the test edits, counting lookups. */
export class MapStoreResolver implements StoreResolver {
  readonly addresses = new Map<bigint, string>();
  resolves = 0;
  invalidations = 0;

  async resolve(storeId: bigint): Promise<string> {
    this.resolves++;
    const address = this.addresses.get(storeId);
    if (address === undefined) throw new StoreUnresolvableError(storeId, "not in the test map");
    return address;
  }

  invalidate(): void {
    this.invalidations++;
  }
}
