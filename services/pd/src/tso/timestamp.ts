import { composeTimestamp } from "#codec";
import type { pdpb } from "#proto";

/** The 64-bit form (`physical_ms << 18 | logical`) of a timestamp as it travels in pdpb. */
export function timestampFromProto(timestamp: pdpb.Timestamp): bigint {
  return composeTimestamp(timestamp.physical, timestamp.logical);
}
