// `#client`: the storage client used by the gateway, stores and tools: pd, raw KV and transactions.

export {
  composeTimestamp,
  LOGICAL_BITS,
  LOGICAL_LIMIT,
  logicalOf,
  physicalMsOf,
  type SplitTimestamp,
  splitTimestamp,
} from "#codec";
export { BackoffBudgetExceededError } from "./backoff/backoff-budget-exceeded-error.ts";
export { type BackoffKind, type BackoffKindName, BackoffKinds } from "./backoff/backoff-kind.ts";
export {
  type BackoffCause,
  Backoffer,
  type BackofferOptions,
  COMMIT_BUDGET_MS,
  GET_BUDGET_MS,
  PREWRITE_BUDGET_MS,
  SCAN_BUDGET_MS,
} from "./backoff/backoffer.ts";
export {
  decorrelatedJitter,
  equalJitter,
  exponentialMs,
  fullJitter,
  type JitterInput,
  type JitterKind,
  jitteredSleepMs,
  noJitter,
} from "./backoff/jitter.ts";
export {
  checkReconnectBackoffPolicy,
  ReconnectBackoff,
  type ReconnectBackoffPolicy,
} from "./backoff/reconnect-backoff.ts";
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
  PdDeadlineExceededError,
  PdError,
  PdNoLeaderError,
  PdProtocolError,
  PdServerError,
  PdStreamEndedError,
  PdUnavailableError,
  TsoDeadlineExceededError,
  TsoQueueFullError,
  TsoStreamStalledError,
} from "./pd/pd-errors.ts";
export type { RegionHeartbeatHandlers, RegionHeartbeatStream } from "./pd/region-heartbeat-stream.ts";
export {
  type CompareAndSwapResult,
  RawKvClient,
  type RawKvClientParts,
  type RawScanOptions,
} from "./raw/raw-kv-client.ts";
export {
  DEFAULT_MAX_BYTES_PER_REQUEST,
  DEFAULT_MAX_CONCURRENT_REGION_REQUESTS,
  DEFAULT_MAX_KEYS_PER_REQUEST,
  DEFAULT_RAW_BACKOFF_BUDGET_MS,
  DEFAULT_RAW_REQUEST_TIMEOUT_MS,
  DEFAULT_SCAN_PAGE_SIZE,
  type RawKvClientOptions,
  type RawKvSettings,
} from "./raw/raw-kv-client-options.ts";
export { RawKvArgumentError, RawKvClientClosedError, RawKvError } from "./raw/raw-kv-errors.ts";
export { RawKvMetrics } from "./raw/raw-kv-metrics.ts";
export type { RawKvPair } from "./raw/region-scan.ts";
export { type KeyLocation, locationContains, rangeContains } from "./region-cache/key-location.ts";
export {
  DEFAULT_REGION_CACHE_TTL_JITTER_MS,
  DEFAULT_REGION_CACHE_TTL_MS,
  DEFAULT_SCAN_BATCH_SIZE,
  type EpochNotMatchOutcome,
  type KeyGroup,
  type NotLeaderOutcome,
  RegionCache,
  type RegionCacheOptions,
  type RegionCachePd,
} from "./region-cache/region-cache.ts";
export { RegionMissError } from "./region-cache/region-cache-errors.ts";
export { RegionVerId } from "./region-cache/region-ver-id.ts";
export type { ReplicaReadMode, RpcContext } from "./region-cache/rpc-context.ts";
export {
  type CommandCase,
  type CommandRequest,
  type CommandResponse,
  commandRequest,
  commandResponse,
} from "./rpc/batch-command.ts";
export {
  RegionCacheMissError,
  RegionRequestError,
  type RegionRequestErrorKind,
} from "./rpc/region-errors.ts";
export {
  type RegionCommandCase,
  RegionRequestSender,
  type RegionRequestSenderOptions,
  type RegionSendResult,
} from "./rpc/region-request-sender.ts";
export { MAX_FREE_RETRIES_IN_A_ROW, RegionRetry } from "./rpc/region-retry.ts";
export { RpcClient, type RpcSendOptions } from "./rpc/rpc-client.ts";
export {
  DEFAULT_CONNECTIONS_PER_STORE,
  DEFAULT_IDLE_TIMEOUT_MS,
  DEFAULT_MAX_BATCH_SIZE,
  DEFAULT_MAX_BATCH_WAIT_MS,
  DEFAULT_MAX_IN_FLIGHT_PER_STREAM,
  DEFAULT_MAX_PENDING_REQUESTS_PER_STORE,
  DEFAULT_RECONNECT_POLICY,
  type RpcClientOptions,
} from "./rpc/rpc-client-options.ts";
export {
  RpcClientClosedError,
  RpcError,
  RpcProtocolError,
  RpcQueueFullError,
  RpcTimeoutError,
  StoreUnavailableError,
  UnknownOutcomeError,
} from "./rpc/rpc-errors.ts";
export { type CommitPlan, lockTtlMs } from "./txn/committer.ts";
export { GcBlockedError, type GcPd, type GcRoundReport } from "./txn/gc-round.ts";
export { GC_LEADER_KEY, GcWorker, type GcWorkerOptions } from "./txn/gc-worker.ts";
export { type BufferedWrite, MemBuffer } from "./txn/mem-buffer.ts";
export { type KvPair, Snapshot, type SnapshotScanOptions } from "./txn/snapshot.ts";
export { type LockKeysOptions, Transaction } from "./txn/transaction.ts";
export { type BeginOptions, TxnClient, type TxnClientParts } from "./txn/txn-client.ts";
export {
  DeadlockError,
  KeyExistsError,
  LockWaitTimeoutError,
  TxnAbortedError,
  TxnArgumentError,
  TxnClosedError,
  TxnError,
  UndeterminedCommitError,
  UnexpectedKeyError,
  WriteConflictError,
} from "./txn/txn-errors.ts";
export type { TxnClientOptions, TxnSettings } from "./txn/txn-settings.ts";
