/**
 * Why a region could not be located. Passed to the backoffer as the cause of a regionMiss backoff, so a
 * budget-exceeded error shows which key or region kept missing.
 */
export class RegionMissError extends Error {
  constructor(
    readonly reason: string,
    readonly location: { readonly keyHex?: string; readonly regionId?: bigint },
  ) {
    const where =
      location.regionId !== undefined ? `region ${location.regionId}` : `key ${location.keyHex ?? "?"}`;
    super(`no usable region for ${where}: ${reason}`);
    this.name = "RegionMissError";
  }
}
