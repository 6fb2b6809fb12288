/**
 * The state a region starts from when it is created with data (bootstrap of the first region, a split):
 * its log begins after index 5 in term 5, as TiKV's does. A peer created empty on another store has an
 * empty log at index 0, so a leader can never replicate to it from the log (entries up to 5 "are
 * compacted") and must send a snapshot first, which carries the region's metadata.
 */
import { type metapb, raft_serverpb } from "#proto";
import type { WriteBatch } from "#rocksdb";
import { putApplyState, putRegionState } from "../engine/kv-engine.ts";
import type { RaftState } from "../engine/raft-log-store.ts";

export const INITIAL_LOG_INDEX = 5;
export const INITIAL_LOG_TERM = 5;

export function initialApplyState(): raft_serverpb.RaftApplyState {
  const index = BigInt(INITIAL_LOG_INDEX);
  const term = BigInt(INITIAL_LOG_TERM);
  return { appliedIndex: index, truncatedState: { index, term }, commitIndex: index, commitTerm: term };
}

export function initialRaftState(): RaftState {
  return {
    hardState: { term: INITIAL_LOG_TERM, vote: 0, commit: INITIAL_LOG_INDEX },
    lastIndex: INITIAL_LOG_INDEX,
  };
}

/** RegionLocalState Normal and the initial apply state, into a kv batch. */
export function writeInitialRegion(batch: WriteBatch, region: metapb.Region): void {
  putRegionState(batch, region.id, { state: raft_serverpb.PeerState.NORMAL, region });
  putApplyState(batch, region.id, initialApplyState());
}
