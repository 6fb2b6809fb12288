/**
 * Store start-up: rebuilds every peer from disk. A region's kv side (RegionLocalState, RaftApplyState,
 * written with the data they cover) says what was applied; its raft side (RaftLocalState and the log)
 * says what is durable in raft. Committed entries after the applied index are handed out again by the
 * raft node and re-applied (applying is deterministic, so replaying them is safe).
 *
 * The two engines are written one after the other, so a crash can leave the raft side behind the kv
 * side: a snapshot or a split's new region whose kv state landed but whose raft state did not. The raft
 * state is then rebuilt from the apply state's truncated point (the log before it is not needed).
 */
import { raft_serverpb } from "#proto";
import { WriteBatch } from "#rocksdb";
import type { PersistedRegion } from "../engine/kv-engine.ts";
import type { RaftState } from "../engine/raft-log-store.ts";
import { recoverApplyingSnapshots } from "../snapshot/snapshot-applier.ts";
import { initialApplyState } from "./initial-state.ts";
import { Peer } from "./peer.ts";
import { describeRegion, findPeerOnStore, toSafeIndex } from "./region-meta.ts";
import type { StoreContext } from "./store-context.ts";
import type { Tombstone } from "./store-meta.ts";
import type { Turn } from "./turn.ts";

export class RecoveryError extends Error {
  override readonly name = "RecoveryError";
}

/** What a store holds on disk: live peers, and tombstones of destroyed ones. */
export interface RecoveredRegions {
  readonly peers: readonly Peer[];
  readonly tombstones: ReadonlyMap<bigint, Tombstone>;
}

/** Loads every region of the store from disk (finishing work a crash interrupted). */
export async function recoverRegions(context: StoreContext): Promise<RecoveredRegions> {
  const { engines, logger } = context;
  const report = await recoverApplyingSnapshots(engines);
  for (const { regionId, reason } of report.cleaned) {
    logger.warn(
      { regionId, reason },
      "a snapshot apply interrupted by a crash could not resume; peer removed",
    );
  }
  const cleanup = new WriteBatch();
  const peers: Peer[] = [];
  const tombstones = new Map<bigint, Tombstone>();
  for (const persisted of await engines.kvEngine.loadRegions()) {
    const { regionId, regionState } = persisted;
    if (regionState.state === raft_serverpb.PeerState.TOMBSTONE) {
      const region = regionState.region;
      if (region !== undefined)
        tombstones.set(regionId, { region, peerId: tombstonePeerId(context, region) });
      // A crash between the tombstone and the raft log deletion leaves the log behind.
      engines.raftLogStore.destroyRegion(cleanup, regionId);
      continue;
    }
    peers.push(await loadPeer(context, persisted, cleanup));
  }
  if (cleanup.operationCount > 0) await engines.raftLogStore.engine.write(cleanup, { sync: true });
  return { peers, tombstones };
}

/** Registers the recovered regions with the store (in the loop's first turn) and wakes every peer. */
export function registerRecovered(context: StoreContext, turn: Turn, recovered: RecoveredRegions): void {
  for (const [regionId, tombstone] of recovered.tombstones)
    context.meta.setTombstone(turn, regionId, tombstone);
  for (const peer of recovered.peers) {
    context.meta.addPeer(turn, peer);
    context.wake(peer);
  }
  context.metrics.regions.set(context.meta.peerCount);
}

function tombstonePeerId(
  context: StoreContext,
  region: NonNullable<raft_serverpb.RegionLocalState["region"]>,
): bigint {
  return findPeerOnStore(region, context.storeId)?.id ?? 0n;
}

async function loadPeer(
  context: StoreContext,
  persisted: PersistedRegion,
  cleanup: WriteBatch,
): Promise<Peer> {
  const { regionId, regionState } = persisted;
  const region = regionState.region;
  if (region === undefined || regionState.state !== raft_serverpb.PeerState.NORMAL) {
    throw new RecoveryError(`region ${regionId}: state ${regionState.state} without a usable region`);
  }
  const self = findPeerOnStore(region, context.storeId);
  if (self === undefined) {
    throw new RecoveryError(`${describeRegion(region)} has no peer on store ${context.storeId}`);
  }
  const applyState = persisted.applyState ?? initialApplyState();
  const appliedIndex = toSafeIndex(applyState.appliedIndex, "applied index");
  const truncatedIndex = toSafeIndex(applyState.truncatedState?.index ?? 0n, "truncated index");
  const truncatedTerm = toSafeIndex(applyState.truncatedState?.term ?? 0n, "truncated term");
  const raftLogStore = context.engines.raftLogStore;
  const stored = await raftLogStore.raftState(regionId);
  const raftState = repairRaftState(stored, truncatedIndex, truncatedTerm);
  if (raftState !== stored) raftLogStore.putRaftState(cleanup, regionId, raftState);
  const entries = await raftLogStore.entries(regionId, truncatedIndex + 1, raftState.lastIndex + 1);
  const peer = new Peer(
    {
      region,
      meta: self,
      initialized: true,
      raftState,
      entries,
      appliedIndex,
      truncatedIndex,
      truncatedTerm,
    },
    context,
    context.clock.monotonicMs(),
  );
  const firstStored = await raftLogStore.firstStoredIndex(regionId);
  if (firstStored !== undefined && firstStored <= truncatedIndex) {
    // Log GC whose deletion did not reach the disk before a crash: finish it.
    raftLogStore.deleteEntriesBefore(cleanup, regionId, truncatedIndex + 1, firstStored);
  }
  return peer;
}

/** The stored raft state, or one rebuilt from the truncated point when the raft side fell behind. */
function repairRaftState(
  stored: RaftState | undefined,
  truncatedIndex: number,
  truncatedTerm: number,
): RaftState {
  if (stored !== undefined && stored.lastIndex >= truncatedIndex) return stored;
  const previous = stored?.hardState ?? { term: 0, vote: 0, commit: 0 };
  const term = Math.max(previous.term, truncatedTerm);
  return {
    hardState: {
      term,
      vote: previous.term === term ? previous.vote : 0,
      commit: Math.max(previous.commit, truncatedIndex),
    },
    lastIndex: truncatedIndex,
  };
}
