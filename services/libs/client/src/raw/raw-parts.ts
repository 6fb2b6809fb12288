/** What every raw operation runs on: where regions are, how to send to one, and the client's settings. */
import type { RegionCache } from "../region-cache/region-cache.ts";
import type { RegionRequestSender } from "../rpc/region-request-sender.ts";
import type { ResolvedRawKvSettings } from "./raw-kv-client-options.ts";

export interface RawParts {
  readonly cache: RegionCache;
  readonly sender: RegionRequestSender;
  readonly settings: ResolvedRawKvSettings;
}
