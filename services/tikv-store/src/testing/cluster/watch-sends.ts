import type { raft_serverpb } from "#proto";
import { DELIVER, type TransportFilter } from "../../server/transport-filter.ts";

/** A filter that drops nothing and shows `watch` each raft message once, as it is sent. */
export function watchSends(
  description: string,
  watch: (message: raft_serverpb.RaftMessage) => void,
): TransportFilter {
  return {
    description,
    decide: (message, direction) => {
      if (direction === "send") watch(message);
      return DELIVER;
    },
  };
}
