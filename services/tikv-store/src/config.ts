/**
 * The store's configuration: a TOML file, `TESSERA_STORE_*` environment variables and `--flags` (highest
 * wins), every key documented here and printed by `npm run store -- --help`.
 *
 * Names and defaults follow TiKV's where TiKV has the setting (`raftstore.region-split-size`,
 * `raftstore.raft-entry-max-size` …). Timing differs on purpose: the base tick is 100 ms instead of TiKV's
 * 1 s, so elections and failover finish within a second or two (architecture brief §4).
 */
import { LOG_LEVELS, tracingConfigSchema } from "#observability";
import { type ConfigValues, defineConfigSchema } from "#runtime";

export const STORE_ENV_PREFIX = "TESSERA_STORE_";

export const storeConfigSchema = defineConfigSchema({
  "data-dir": {
    type: "string",
    default: "data/tikv-store",
    doc: "Directory of this store's two RocksDB instances (kv/ and raft/) and its identity; one store per directory.",
  },
  "server.addr": {
    type: "string",
    default: "127.0.0.1:20160",
    doc: "host:port the gRPC server (tikvpb.Tikv: client requests and raft traffic) listens on; port 0 picks a free port (tests).",
  },
  "server.advertise-addr": {
    type: "string",
    default: "",
    doc: "host:port other stores and clients use to reach this store, as registered in pd; empty means the bound server.addr.",
  },
  "server.status-addr": {
    type: "string",
    default: "127.0.0.1:20180",
    doc: "host:port of the status HTTP server (/status, /metrics, /health); port 0 picks a free port.",
  },
  "server.advertise-status-addr": {
    type: "string",
    default: "",
    doc: "Status address registered in pd; empty means the bound server.status-addr.",
  },
  "server.labels": {
    type: "string-list",
    default: [],
    doc: 'Store labels as key=value (e.g. "zone=z1,host=h3"), which pd uses to spread replicas across failure domains.',
  },
  "server.max-key-size": {
    type: "size",
    default: "8KiB",
    doc: "Longest key a request may carry (TiKV's storage.max-key-size); longer keys are refused with a clear error.",
  },
  "server.max-batch-keys": {
    type: "int",
    default: 4096,
    min: 1,
    doc: "Most keys or pairs one RawBatchGet/RawBatchPut/RawBatchDelete may carry; bigger batches are refused, so one request cannot monopolise a region.",
  },
  "server.max-batch-size": {
    type: "size",
    default: "6MiB",
    doc: "Most key and value bytes one batch request may carry; kept below raftstore.raft-entry-max-size so a batch fits one raft entry.",
  },
  "server.max-scan-limit": {
    type: "int",
    default: 10240,
    min: 1,
    doc: "Most pairs one RawScan returns; a larger or zero limit is clamped to it so a scan's reply stays bounded.",
  },
  "server.batch-commands-max-in-flight": {
    type: "int",
    default: 1024,
    min: 1,
    doc: "Requests of one BatchCommands stream processed at once; beyond it the stream stops reading until some finish (backpressure).",
  },
  "server.grpc-max-message-size": {
    type: "size",
    default: "64MiB",
    doc: "Largest gRPC message sent or received; must exceed raftstore.raft-entry-max-size and server.raft-batch-max-size.",
  },
  "server.raft-batch-max-size": {
    type: "size",
    default: "10MiB",
    doc: "Raft messages to one store are packed into BatchRaft items of at most about this many bytes.",
  },
  "server.raft-queue-max-messages": {
    type: "int",
    default: 8192,
    min: 1,
    doc: "Raft messages queued for one unreachable or slow store; beyond it the oldest are dropped (raft retransmits).",
  },
  "server.raft-reconnect-backoff-base": {
    type: "duration",
    default: "100ms",
    doc: "First delay before reconnecting a broken raft stream to another store; doubles per failure, jittered.",
  },
  "server.raft-reconnect-backoff-max": {
    type: "duration",
    default: "3s",
    doc: "Longest delay between reconnect attempts of a raft stream.",
  },
  "pd.endpoints": {
    type: "string-list",
    default: ["127.0.0.1:2379"],
    doc: "pd members (host:port or URLs); the leader is found from whichever answers.",
  },
  "pd.store-heartbeat-interval": {
    type: "duration",
    default: "10s",
    doc: "How often the store reports its capacity, region and leader counts to pd.",
  },
  "pd.region-heartbeat-interval": {
    type: "duration",
    default: "60s",
    doc: "How often every region leader reports to pd even without a change; changes are reported at once.",
  },
  "raftstore.base-tick-interval": {
    type: "duration",
    default: "100ms",
    doc: "Raft's logical clock tick; election and heartbeat timeouts are counted in ticks.",
  },
  "raftstore.heartbeat-ticks": {
    type: "int",
    default: 2,
    min: 1,
    doc: "Leader heartbeat interval in ticks.",
  },
  "raftstore.election-ticks": {
    type: "int",
    default: 10,
    min: 2,
    doc: "Election timeout in ticks, randomised in [n, 2n); must exceed raftstore.heartbeat-ticks.",
  },
  "raftstore.region-split-size": {
    type: "size",
    default: "96MiB",
    doc: "A region is split into pieces of about this size once it reaches raftstore.region-max-size.",
  },
  "raftstore.region-max-size": {
    type: "size",
    default: "144MiB",
    doc: "Region size that triggers a split.",
  },
  "raftstore.region-split-keys": {
    type: "int",
    default: 960_000,
    min: 1,
    doc: "A region with more keys than this is split (TiKV's default); tests use tiny values.",
  },
  "raftstore.split-region-check-tick-interval": {
    type: "duration",
    default: "10s",
    doc: "How often region leaders measure their size and key count against the split thresholds.",
  },
  "raftstore.raft-log-gc-tick-interval": {
    type: "duration",
    default: "10s",
    doc: "How often region leaders consider truncating their raft log.",
  },
  "raftstore.raft-log-gc-threshold": {
    type: "int",
    default: 50,
    min: 1,
    doc: "Entries kept behind the slowest follower's match index before the log is truncated up to it.",
  },
  "raftstore.raft-log-gc-count-limit": {
    type: "int",
    default: 73_728,
    min: 1,
    doc: "Log entries after which the log is truncated even if a follower lags (it then catches up by snapshot).",
  },
  "raftstore.raft-log-gc-size-limit": {
    type: "size",
    default: "72MiB",
    doc: "Log bytes after which the log is truncated even if a follower lags.",
  },
  "raftstore.raft-entry-max-size": {
    type: "size",
    default: "8MiB",
    doc: "Largest single raft entry; a write over it gets RaftEntryTooLarge. Values larger than this are refused up front.",
  },
  "raftstore.max-region-mailbox": {
    type: "int",
    default: 4096,
    min: 1,
    doc: "Messages and proposals queued for one region; a full mailbox answers ServerIsBusy.",
  },
  "raftstore.max-pending-proposals": {
    type: "int",
    default: 65_536,
    min: 1,
    doc: "Proposals awaiting apply on the whole store; beyond it writes answer ServerIsBusy.",
  },
  "raftstore.max-messages-per-peer-per-turn": {
    type: "int",
    default: 4096,
    min: 1,
    doc: "Mailbox items one region handles in one store loop turn; the rest wait for the next turn, so one busy region cannot stall the others.",
  },
  "raftstore.max-peers-per-turn": {
    type: "int",
    default: 1024,
    min: 1,
    doc: "Regions one store loop turn handles at most; regions with work beyond it are taken first in the next turn.",
  },
  "raftstore.max-raft-write-batch-size": {
    type: "size",
    default: "8MiB",
    doc: "Bytes of raft entries one turn persists in its single synced write; regions beyond it persist in the next turn.",
  },
  "raftstore.max-store-inbox": {
    type: "int",
    default: 65_536,
    min: 1,
    doc: "Raft messages received and not yet routed to their regions; beyond it messages are dropped (raft retransmits).",
  },
  "raftstore.raft-max-uncommitted-size": {
    type: "size",
    default: "32MiB",
    doc: "Bytes of proposed and not yet committed entries one region leader holds; beyond it writes answer ServerIsBusy. Must be at least raft-entry-max-size.",
  },
  "raftstore.raft-max-inflight-size": {
    type: "size",
    default: "32MiB",
    doc: "Bytes of appends a leader sends one follower before it hears back; a slow follower then gets no more until it acknowledges.",
  },
  "raftstore.snapshot-chunk-size": {
    type: "size",
    default: "1MiB",
    doc: "Size of one chunk of a region snapshot on the Snapshot stream.",
  },
  "storage.scheduler-max-waiting-commands": {
    type: "int",
    default: 16384,
    min: 1,
    doc: "Transactional write commands that may wait for latches (their keys are busy) before the store answers ServerIsBusy (like TiKV's scheduler-pending-write-threshold).",
  },
  "pessimistic-txn.wait-for-lock-timeout": {
    type: "duration",
    default: "1s",
    doc: "How long a pessimistic lock request that asks for the default wait waits for another transaction's lock (TiKV's default); requests may name their own wait.",
  },
  "pessimistic-txn.wake-up-delay-duration": {
    type: "duration",
    default: "20ms",
    doc: "When a lock is released its oldest waiter wakes at once and the others after this delay, giving the oldest a head start.",
  },
  "pessimistic-txn.max-lock-waiters": {
    type: "int",
    default: 16384,
    min: 1,
    doc: "Pessimistic lock requests that may wait on this store at once; beyond it requests get ServerIsBusy.",
  },
  "shutdown.leader-transfer-timeout": {
    type: "duration",
    default: "10s",
    doc: "On SIGTERM, how long the store waits for its region leaders to move to other stores before it stops anyway.",
  },
  "shutdown.deadline": {
    type: "duration",
    default: "30s",
    doc: "Bound on the whole graceful shutdown (like Kubernetes' terminationGracePeriodSeconds); must exceed the leader transfer timeout.",
  },
  "log.level": {
    type: "enum",
    values: LOG_LEVELS,
    default: "info",
    doc: "Lowest log level written (JSON lines on stdout).",
  },
  ...tracingConfigSchema,
});

export type StoreConfig = ConfigValues<typeof storeConfigSchema>;
