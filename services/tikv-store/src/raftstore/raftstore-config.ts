/**
 * The raftstore's settings, resolved to numbers (milliseconds, bytes, counts). The documented config keys
 * live in ../config.ts; `raftstoreConfigFrom` maps them. Tests start from `defaultRaftstoreConfig` and
 * shrink timings and thresholds.
 */
import { ConfigError } from "#runtime";
import type { StoreConfig } from "../config.ts";

export interface RaftstoreConfig {
  /** Raft's logical clock; every timeout below that counts ticks derives from it. */
  readonly baseTickMs: number;
  readonly heartbeatTicks: number;
  readonly electionTicks: number;
  /** Serve reads from the leader lease when it is valid, without a ReadIndex round trip. */
  readonly leaseRead: boolean;
  /** A write whose encoded command exceeds this is refused with RaftEntryTooLarge. */
  readonly raftEntryMaxSizeBytes: number;
  /** Byte budget of the entries in one append message. */
  readonly raftMaxSizePerMessageBytes: number;
  readonly raftMaxInflightMessages: number;
  /** Bytes of appends in flight to one follower before the leader waits for it. */
  readonly raftMaxInflightBytes: number;
  /** Bytes of uncommitted entries a leader holds before proposals answer ServerIsBusy. */
  readonly raftMaxUncommittedBytes: number;
  /** Mailbox items one region handles per turn (the rest wait for the next turn). */
  readonly maxMessagesPerPeerPerTurn: number;
  /** Regions one turn handles at most. */
  readonly maxPeersPerTurn: number;
  /** Bytes of entries one turn's synced raft write carries (one region's Ready may exceed it alone). */
  readonly maxRaftWriteBatchBytes: number;
  /** Raft messages received and not yet routed to their regions; beyond it they are dropped. */
  readonly maxStoreInbox: number;
  /** Messages, proposals and reads queued for one region before it answers ServerIsBusy. */
  readonly maxRegionMailbox: number;
  /** Proposals queued or awaiting apply on the whole store before writes answer ServerIsBusy. */
  readonly maxPendingProposals: number;
  /** Reads waiting for a read index on the whole store before reads answer ServerIsBusy. */
  readonly maxPendingReads: number;
  /** How long a read may wait for its read index before it fails with ReadIndexNotReady. */
  readonly readIndexTimeoutMs: number;
  /** Backoff suggested to clients with ServerIsBusy. */
  readonly busyBackoffMs: number;
  readonly raftLogGcTickMs: number;
  /** Entries kept behind the slowest follower before truncating up to it. */
  readonly raftLogGcThreshold: number;
  /** Entries after which the log is truncated even when a follower lags (it then needs a snapshot). */
  readonly raftLogGcCountLimit: number;
  readonly raftLogGcSizeLimitBytes: number;
  readonly splitCheckTickMs: number;
  readonly regionSplitSizeBytes: number;
  readonly regionMaxSizeBytes: number;
  readonly regionSplitKeys: number;
  /** Keys one split check scans at most. */
  readonly splitCheckMaxKeys: number;
  readonly snapshotChunkSizeBytes: number;
  /** A generated snapshot is released after this long unused. */
  readonly snapshotTimeToLiveMs: number;
  /** A follower that heard no leader for this long asks pd whether it is still a member. */
  readonly maxLeaderMissingMs: number;
  /** A member the leader has not heard from for this long is reported to pd as down. */
  readonly maxPeerDownMs: number;
  /** First votes for regions that do not exist here yet (a split not yet applied) held for replay. */
  readonly maxPendingVotes: number;
}

const MIB = 1024 * 1024;

export function defaultRaftstoreConfig(): RaftstoreConfig {
  return {
    baseTickMs: 100,
    heartbeatTicks: 2,
    electionTicks: 10,
    leaseRead: true,
    raftEntryMaxSizeBytes: 8 * MIB,
    raftMaxSizePerMessageBytes: MIB,
    raftMaxInflightMessages: 256,
    raftMaxInflightBytes: 32 * MIB,
    raftMaxUncommittedBytes: 32 * MIB,
    maxMessagesPerPeerPerTurn: 4096,
    maxPeersPerTurn: 1024,
    maxRaftWriteBatchBytes: 8 * MIB,
    maxStoreInbox: 65_536,
    maxRegionMailbox: 4096,
    maxPendingProposals: 65_536,
    maxPendingReads: 65_536,
    readIndexTimeoutMs: 5_000,
    busyBackoffMs: 100,
    raftLogGcTickMs: 10_000,
    raftLogGcThreshold: 50,
    raftLogGcCountLimit: 73_728,
    raftLogGcSizeLimitBytes: 72 * MIB,
    splitCheckTickMs: 10_000,
    regionSplitSizeBytes: 96 * MIB,
    regionMaxSizeBytes: 144 * MIB,
    regionSplitKeys: 960_000,
    splitCheckMaxKeys: 2_000_000,
    snapshotChunkSizeBytes: MIB,
    snapshotTimeToLiveMs: 60_000,
    maxLeaderMissingMs: 60_000,
    maxPeerDownMs: 10 * 60_000,
    maxPendingVotes: 256,
  };
}

/** The raftstore settings of a loaded store config. */
export function raftstoreConfigFrom(config: StoreConfig): RaftstoreConfig {
  const raftstore = config.raftstore;
  if (raftstore.raftMaxUncommittedSize < raftstore.raftEntryMaxSize) {
    // A leader refuses proposals beyond the uncommitted bound, so a largest entry must fit in it.
    throw new ConfigError({
      source: "config",
      key: "raftstore.raft-max-uncommitted-size",
      problem: `raftstore.raft-max-uncommitted-size (${raftstore.raftMaxUncommittedSize} bytes) must be at least raftstore.raft-entry-max-size (${raftstore.raftEntryMaxSize} bytes)`,
    });
  }
  return {
    ...defaultRaftstoreConfig(),
    baseTickMs: raftstore.baseTickInterval,
    heartbeatTicks: raftstore.heartbeatTicks,
    electionTicks: raftstore.electionTicks,
    raftEntryMaxSizeBytes: raftstore.raftEntryMaxSize,
    maxRegionMailbox: raftstore.maxRegionMailbox,
    maxPendingProposals: raftstore.maxPendingProposals,
    maxMessagesPerPeerPerTurn: raftstore.maxMessagesPerPeerPerTurn,
    maxPeersPerTurn: raftstore.maxPeersPerTurn,
    maxRaftWriteBatchBytes: raftstore.maxRaftWriteBatchSize,
    maxStoreInbox: raftstore.maxStoreInbox,
    raftMaxUncommittedBytes: raftstore.raftMaxUncommittedSize,
    raftMaxInflightBytes: raftstore.raftMaxInflightSize,
    raftLogGcTickMs: raftstore.raftLogGcTickInterval,
    raftLogGcThreshold: raftstore.raftLogGcThreshold,
    raftLogGcCountLimit: raftstore.raftLogGcCountLimit,
    raftLogGcSizeLimitBytes: raftstore.raftLogGcSizeLimit,
    splitCheckTickMs: raftstore.splitRegionCheckTickInterval,
    regionSplitSizeBytes: raftstore.regionSplitSize,
    regionMaxSizeBytes: raftstore.regionMaxSize,
    regionSplitKeys: raftstore.regionSplitKeys,
    snapshotChunkSizeBytes: raftstore.snapshotChunkSize,
  };
}
