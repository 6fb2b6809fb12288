/**
 * When a leader truncates its region's raft log (TiKV's raft log GC): up to the slowest member's match
 * index once `raftLogGcThreshold` entries are behind everyone, or up to the applied index regardless of
 * lagging members once the log exceeds its count or size limit (those members then catch up by
 * snapshot). The truncation itself is a CompactLog command, so every replica truncates at the same point.
 */
import type { Peer } from "./peer.ts";
import type { RaftstoreConfig } from "./raftstore-config.ts";

/** The index to compact the log up to (inclusive), or undefined when it should stay as it is. */
export function compactLogTarget(peer: Peer, config: RaftstoreConfig): number | undefined {
  if (!peer.isLeader) return undefined;
  const firstIndex = peer.log.firstIndex();
  const applied = peer.appliedIndex;
  if (applied < firstIndex) return undefined;
  const overLimit =
    peer.log.entryCount >= config.raftLogGcCountLimit || peer.log.sizeBytes >= config.raftLogGcSizeLimitBytes;
  if (overLimit) return applied;
  const progress = peer.status().progress;
  if (progress === undefined) return undefined;
  let replicated = applied;
  for (const member of progress.values()) replicated = Math.min(replicated, member.match);
  if (replicated < firstIndex || replicated - firstIndex + 1 < config.raftLogGcThreshold) return undefined;
  return replicated;
}
