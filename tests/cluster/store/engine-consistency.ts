/**
 * Inspects a stopped store's data directory (both RocksDB instances) and lists every way its region meta
 * and raft state disagree with each other or with pd. Run on the directory of a store killed with
 * SIGKILL, it shows what a crash leaves on disk:
 * - a live region names a peer on this store and is no newer than pd's view of it (stores follow pd's
 *   epoch, never lead it: pd hears every change from the region's leader);
 * - truncated index ≤ applied index ≤ persisted commit index ≤ last log index (a store applies only what
 *   it persisted as committed, and truncates only what it applied);
 * - the log holds every entry from the truncated index + 1 to the last index, without a gap;
 * - a tombstone keeps no apply state.
 */
import { metapb, raft_serverpb } from "#proto";
import { KvEngine, type PersistedRegion } from "../../../services/tikv-store/src/engine/kv-engine.ts";
import { RaftEngine } from "../../../services/tikv-store/src/engine/raft-engine.ts";
import { RaftLogStore } from "../../../services/tikv-store/src/engine/raft-log-store.ts";
import { findPeerOnStore } from "../../../services/tikv-store/src/raftstore/region-meta.ts";

export interface EngineInspection {
  /** Regions by state, for the report. */
  readonly normal: number;
  readonly applying: number;
  readonly tombstones: number;
  readonly problems: readonly string[];
}

export async function inspectEngines(options: {
  readonly dataDir: string;
  readonly storeId: bigint;
  /** pd's view of a region, undefined when pd does not know it. */
  readonly pdRegion: (regionId: bigint) => metapb.Region | undefined;
}): Promise<EngineInspection> {
  const kvEngine = await KvEngine.open(options.dataDir);
  const raftEngine = await RaftEngine.open(options.dataDir);
  try {
    const log = new RaftLogStore(raftEngine);
    const problems: string[] = [];
    const counts = { normal: 0, applying: 0, tombstones: 0 };
    for (const persisted of await kvEngine.loadRegions()) {
      const state = persisted.regionState.state;
      if (state === raft_serverpb.PeerState.TOMBSTONE) {
        counts.tombstones++;
        if (persisted.applyState !== undefined)
          problems.push(`region ${persisted.regionId}: tombstone keeps its apply state`);
        continue;
      }
      if (state === raft_serverpb.PeerState.APPLYING) {
        // A snapshot was being applied at the crash; the store resumes or cleans it up when it restarts.
        counts.applying++;
        continue;
      }
      counts.normal++;
      const where = `region ${persisted.regionId} on store ${options.storeId}`;
      problems.push(...checkRegionMeta(persisted, options).map((problem) => `${where}: ${problem}`));
      problems.push(...(await checkRaftState(persisted, log)).map((problem) => `${where}: ${problem}`));
    }
    return { ...counts, problems };
  } finally {
    await Promise.allSettled([kvEngine.close(), raftEngine.close()]);
  }
}

function checkRegionMeta(
  persisted: PersistedRegion,
  options: { readonly storeId: bigint; readonly pdRegion: (regionId: bigint) => metapb.Region | undefined },
): string[] {
  const region = persisted.regionState.region ?? metapb.Region.fromPartial({ id: persisted.regionId });
  const problems: string[] = [];
  if (region.id !== persisted.regionId)
    problems.push(`stored under region id ${persisted.regionId} but names ${region.id}`);
  if (findPeerOnStore(region, options.storeId) === undefined)
    problems.push("live region meta names no peer on this store");
  const known = options.pdRegion(region.id);
  if (known === undefined) {
    problems.push("pd does not know the region");
    return problems;
  }
  const local = region.regionEpoch;
  const pd = known.regionEpoch;
  if ((local?.confVer ?? 0n) > (pd?.confVer ?? 0n) || (local?.version ?? 0n) > (pd?.version ?? 0n)) {
    problems.push(
      `epoch {conf_ver ${local?.confVer}, version ${local?.version}} is newer than pd's {conf_ver ${pd?.confVer}, version ${pd?.version}}`,
    );
  }
  return problems;
}

async function checkRaftState(persisted: PersistedRegion, log: RaftLogStore): Promise<string[]> {
  const applyState = persisted.applyState;
  // A peer created by a split or for a snapshot that has not applied anything has no apply state yet.
  if (applyState === undefined) return [];
  const raftState = await log.raftState(persisted.regionId);
  if (raftState === undefined) return ["has an apply state but no raft state"];
  const applied = Number(applyState.appliedIndex);
  const truncated = Number(applyState.truncatedState?.index ?? 0n);
  const commit = raftState.hardState.commit;
  const last = raftState.lastIndex;
  const problems: string[] = [];
  if (!(truncated <= applied && applied <= commit && commit <= last)) {
    problems.push(
      `indexes out of order: truncated ${truncated}, applied ${applied}, commit ${commit}, last ${last}`,
    );
  }
  if (last > truncated) {
    const first = await log.firstStoredIndex(persisted.regionId);
    if (first === undefined || first > truncated + 1) {
      problems.push(
        `log starts at ${first ?? "(empty)"} but entries after the truncated index ${truncated} are needed`,
      );
    } else {
      try {
        await log.entries(persisted.regionId, truncated + 1, last + 1);
      } catch (error) {
        problems.push(`log has a gap: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
  }
  return problems;
}
