// `#client`: the storage client used by the gateway, stores and tools. Today: the pd client.

export {
  composeTimestamp,
  LOGICAL_BITS,
  LOGICAL_LIMIT,
  logicalOf,
  physicalMsOf,
  type SplitTimestamp,
  splitTimestamp,
} from "#codec";
export { InvalidEndpointError, toGrpcAddress } from "./pd/endpoint-address.ts";
export { type PdCallOptions, PdClient, type PdMembers, type PdRegion, type PdStore } from "./pd/pd-client.ts";
export {
  DEFAULT_MAX_ATTEMPTS,
  DEFAULT_MAX_BUFFERED_HEARTBEATS,
  DEFAULT_MEMBER_REFRESH_INTERVAL_MS,
  DEFAULT_MEMBER_TIMEOUT_MS,
  DEFAULT_RECONNECT_BACKOFF,
  DEFAULT_REQUEST_TIMEOUT_MS,
  DEFAULT_TSO_MAX_BATCH_SIZE,
  DEFAULT_TSO_MAX_IN_FLIGHT_BATCHES,
  DEFAULT_TSO_MAX_PENDING_REQUESTS,
  DEFAULT_TSO_TIMEOUT_MS,
  type PdClientOptions,
} from "./pd/pd-client-options.ts";
export {
  PdClientClosedError,
  PdClusterMismatchError,
  PdError,
  PdProtocolError,
  PdServerError,
  PdUnavailableError,
  TsoDeadlineExceededError,
  TsoQueueFullError,
} from "./pd/pd-errors.ts";
export type { BackoffPolicy } from "./pd/reconnect-backoff.ts";
export type { RegionHeartbeatHandlers, RegionHeartbeatStream } from "./pd/region-heartbeat-stream.ts";
