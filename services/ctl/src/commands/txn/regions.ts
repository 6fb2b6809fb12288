/** Finding regions in pd for the txn views, failing with RegionNotFoundError instead of returning nothing. */
import type { PdClient, PdRegion } from "#client";
import { RegionNotFoundError } from "./txn-errors.ts";

export type RegionDirectory = Pick<PdClient, "getRegion" | "getRegionById" | "scanRegions">;

export async function regionHolding(pd: RegionDirectory, key: Uint8Array): Promise<PdRegion> {
  const region = await pd.getRegion(key);
  if (region === undefined) throw new RegionNotFoundError(holdingKey(key));
  return region;
}

/** Names a missing region by a key it should hold, in hex since the key may not be text. */
export function holdingKey(key: Uint8Array): string {
  return `holding key ${Buffer.from(key).toString("hex") || '"" (the first key)'}`;
}

export async function regionById(pd: RegionDirectory, regionId: bigint): Promise<PdRegion> {
  const region = await pd.getRegionById(regionId);
  if (region === undefined) throw new RegionNotFoundError(String(regionId));
  return region;
}
