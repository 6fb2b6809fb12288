/**
 * Applies a staged snapshot (snapshot-store.ts) to the kv and raft engines, crash-safe:
 *
 *  1. kv (synced):   RegionLocalState{Applying, region} + apply state {applied = truncated = snapshot index},
 *                    and the abandoned ranges cleared (what the region held before outside its new range)
 *  2. raft (synced): the region's whole log deleted; raft state {hard state with commit ≥ index, last = index}
 *  3. kv:            the region's data range cleared in every data CF
 *  4. kv:            the staged pairs written in bounded batches
 *  5. kv (synced):   apply state + RegionLocalState{Normal, region} in ONE batch (its fsync also covers 3–4)
 *  6. the staged file deleted
 *
 * Steps 2–5 are idempotent and the staged file stays until step 5 is durable, so a region found Applying
 * after a crash is simply re-applied from step 2 (`recoverApplyingSnapshots`). Readers must treat a region
 * in Applying as having no data; its apply state already names the snapshot (that is how recovery finds
 * the file).
 */

import { type metapb, raft_serverpb } from "#proto";
import type { HardState } from "#raft";
import { WriteBatch } from "#rocksdb";
import { regionDataSpans } from "../engine/keys.ts";
import {
  clearRange,
  DATA_COLUMN_FAMILIES,
  deleteApplyState,
  type KvEngine,
  putApplyState,
  putRegionState,
} from "../engine/kv-engine.ts";
import type { RaftLogStore, RaftState } from "../engine/raft-log-store.ts";
import { SnapshotDecoder, SnapshotFormatError, type SnapshotHeader } from "./snapshot-codec.ts";
import { describeSnapshotKey, type SnapshotKey, type SnapshotStore } from "./snapshot-store.ts";

export interface SnapshotApplyContext {
  readonly kvEngine: KvEngine;
  readonly raftLogStore: RaftLogStore;
  readonly snapshotStore: SnapshotStore;
  /** Data bytes per kv write batch while ingesting [4 MiB]. */
  readonly batchSizeBytes?: number;
}

export interface AppliedSnapshot {
  readonly key: SnapshotKey;
  readonly region: metapb.Region;
  readonly kvCount: number;
  /** What step 2 persisted in the raft engine: the raft node restarts its log from here. */
  readonly raftState: RaftState;
}

export interface RecoveryReport {
  /** Regions found Applying and re-applied from their staged snapshot. */
  readonly reapplied: readonly AppliedSnapshot[];
  /** Regions found Applying without a usable staged snapshot: data cleared and made tombstones. */
  readonly cleaned: ReadonlyArray<{ readonly regionId: bigint; readonly reason: string }>;
  /** Staged snapshots no Applying region needed, and temporary files of unfinished receives. */
  readonly removedFiles: number;
}

/** A test hook: stop after this many ingest batches, as if the process died there. */
export interface ApplyInterruption {
  readonly afterBatches: number;
}

/** User key range [startKey, endKey); an empty end is unbounded. */
export interface AbandonedRange {
  readonly startKey: Uint8Array;
  readonly endKey: Uint8Array;
}

export interface ApplySnapshotOptions {
  /**
   * The hard state to persist with the snapshot (the Ready's, when it carries one); otherwise the stored
   * one is kept. Either way commit is raised to the snapshot index and the term to the snapshot term.
   */
  readonly hardState?: HardState;
  /**
   * Data the peer held before that the snapshot's smaller range (it missed a split) no longer covers and
   * no other region here owns: cleared in the first synced batch, so a crash cannot leave it orphaned.
   */
  readonly abandonedRanges?: readonly AbandonedRange[];
  readonly interruption?: ApplyInterruption;
}

export class SnapshotInterruptedError extends Error {
  override readonly name = "SnapshotInterruptedError";
}

const DEFAULT_BATCH_SIZE_BYTES = 4 * 1024 * 1024;

/**
 * Applies the staged snapshot `key`. The raft node must not apply entries after the snapshot until this
 * resolves.
 */
export async function applySnapshot(
  context: SnapshotApplyContext,
  key: SnapshotKey,
  options: ApplySnapshotOptions = {},
): Promise<AppliedSnapshot> {
  const header = await readStagedHeader(context.snapshotStore, key);
  const begin = new WriteBatch();
  putRegionState(begin, key.regionId, { state: raft_serverpb.PeerState.APPLYING, region: header.region });
  putApplyState(begin, key.regionId, applyStateAt(key));
  for (const range of options.abandonedRanges ?? []) clearKeyRange(begin, range);
  await context.kvEngine.write(begin, { sync: true });
  return resumeApply(context, key, header, options.hardState, options.interruption);
}

function clearKeyRange(batch: WriteBatch, range: AbandonedRange): void {
  for (const span of regionDataSpans(range.startKey, range.endKey)) {
    for (const columnFamily of DATA_COLUMN_FAMILIES) batch.deleteRange(columnFamily, span.start, span.end);
  }
}

/**
 * Finds regions left Applying by a crash and re-applies them from their staged snapshot, or, when that is
 * missing or corrupt, clears their data and raft log and makes them tombstones (the peer then no longer
 * votes, so losing its log cannot break a quorum; pd replaces it). Also removes staged files nothing
 * needs. Run at store start-up, before regions are loaded.
 */
export async function recoverApplyingSnapshots(context: SnapshotApplyContext): Promise<RecoveryReport> {
  const reapplied: AppliedSnapshot[] = [];
  const cleaned: Array<{ regionId: bigint; reason: string }> = [];
  const needed = new Set<string>();
  for (const { regionId, regionState, applyState } of await context.kvEngine.loadRegions()) {
    if (regionState.state !== raft_serverpb.PeerState.APPLYING) continue;
    const key = applyState && stagedKeyOf(regionId, applyState);
    const region = regionState.region;
    try {
      if (!key || !region) throw new SnapshotFormatError(regionId, "no apply state names the snapshot");
      if (!(await context.snapshotStore.has(key))) {
        throw new SnapshotFormatError(regionId, `staged snapshot ${describeSnapshotKey(key)} is missing`);
      }
      needed.add(context.snapshotStore.path(key));
      reapplied.push(await resumeApply(context, key, await readStagedHeader(context.snapshotStore, key)));
    } catch (error) {
      if (!(error instanceof SnapshotFormatError)) throw error;
      await cleanRegion(context, regionId, region);
      cleaned.push({ regionId, reason: error.message });
    }
  }
  return { reapplied, cleaned, removedFiles: await removeUnneededFiles(context.snapshotStore, needed) };
}

async function resumeApply(
  context: SnapshotApplyContext,
  key: SnapshotKey,
  header: SnapshotHeader,
  hardState?: HardState,
  interruption?: ApplyInterruption,
): Promise<AppliedSnapshot> {
  const raftState = await resetRaftLog(context.raftLogStore, key, hardState);
  const kvCount = await ingest(context, key, header.region, interruption);
  const finish = new WriteBatch();
  putApplyState(finish, key.regionId, applyStateAt(key));
  putRegionState(finish, key.regionId, { state: raft_serverpb.PeerState.NORMAL, region: header.region });
  await context.kvEngine.write(finish, { sync: true });
  await context.snapshotStore.delete(key);
  return { key, region: header.region, kvCount, raftState };
}

async function resetRaftLog(
  raftLogStore: RaftLogStore,
  key: SnapshotKey,
  hardState: HardState | undefined,
): Promise<RaftState> {
  const base = hardState ?? (await raftLogStore.raftState(key.regionId))?.hardState;
  const term = Math.max(base?.term ?? 0, key.term);
  const raftState: RaftState = {
    hardState: {
      term,
      // A vote belongs to its term: raising the term forgets it.
      vote: base && base.term === term ? base.vote : 0,
      commit: Math.max(base?.commit ?? 0, key.index),
    },
    lastIndex: key.index,
  };
  const batch = new WriteBatch();
  raftLogStore.deleteAllEntries(batch, key.regionId);
  raftLogStore.putRaftState(batch, key.regionId, raftState);
  await raftLogStore.engine.write(batch, { sync: true });
  return raftState;
}

/** Clears the region's range and writes the staged pairs; returns how many pairs were written. */
async function ingest(
  context: SnapshotApplyContext,
  key: SnapshotKey,
  region: metapb.Region,
  interruption: ApplyInterruption | undefined,
): Promise<number> {
  const batchSizeBytes = context.batchSizeBytes ?? DEFAULT_BATCH_SIZE_BYTES;
  const clear = new WriteBatch();
  clearRange(clear, region);
  await context.kvEngine.write(clear, { sync: false });
  const decoder = new SnapshotDecoder({ expected: key });
  let batch = new WriteBatch();
  let kvCount = 0;
  let batchesWritten = 0;
  for await (const chunk of context.snapshotStore.read(key)) {
    for (const record of decoder.push(chunk)) {
      if (record.kind !== "kv") continue;
      const { columnFamily, key: dataKey, value } = record.keyValue;
      batch.put(columnFamily, dataKey, value);
      kvCount += 1;
      if (batch.approximateSizeBytes < batchSizeBytes) continue;
      await context.kvEngine.write(batch, { sync: false });
      batchesWritten += 1;
      if (interruption && batchesWritten >= interruption.afterBatches) {
        throw new SnapshotInterruptedError(`stopped after ${batchesWritten} batches`);
      }
      batch = new WriteBatch();
    }
  }
  decoder.end();
  if (batch.operationCount > 0) await context.kvEngine.write(batch, { sync: false });
  return kvCount;
}

async function cleanRegion(
  context: SnapshotApplyContext,
  regionId: bigint,
  region: metapb.Region | undefined,
): Promise<void> {
  // Raft engine first: until the kv batch below lands the region is still Applying, so a crash in between
  // just repeats this cleanup.
  const raftBatch = new WriteBatch();
  context.raftLogStore.destroyRegion(raftBatch, regionId);
  await context.raftLogStore.engine.write(raftBatch, { sync: true });
  const batch = new WriteBatch();
  if (region) clearRange(batch, region);
  deleteApplyState(batch, regionId);
  putRegionState(batch, regionId, { state: raft_serverpb.PeerState.TOMBSTONE, region });
  await context.kvEngine.write(batch, { sync: true });
}

async function readStagedHeader(store: SnapshotStore, key: SnapshotKey): Promise<SnapshotHeader> {
  const decoder = new SnapshotDecoder({ expected: key });
  for await (const chunk of store.read(key)) {
    decoder.push(chunk);
    if (decoder.snapshotHeader) return decoder.snapshotHeader;
  }
  throw new SnapshotFormatError(key.regionId, `staged snapshot ${describeSnapshotKey(key)} has no header`);
}

async function removeUnneededFiles(store: SnapshotStore, needed: ReadonlySet<string>): Promise<number> {
  let removed = await store.removeTemporaryFiles();
  for (const key of await store.list()) {
    if (needed.has(store.path(key))) continue;
    await store.delete(key);
    removed += 1;
  }
  return removed;
}

function applyStateAt(key: SnapshotKey): raft_serverpb.RaftApplyState {
  const index = BigInt(key.index);
  const term = BigInt(key.term);
  return { appliedIndex: index, truncatedState: { index, term }, commitIndex: index, commitTerm: term };
}

function stagedKeyOf(regionId: bigint, applyState: raft_serverpb.RaftApplyState): SnapshotKey | undefined {
  const truncated = applyState.truncatedState;
  if (!truncated || truncated.index !== applyState.appliedIndex) return undefined;
  return { regionId, index: Number(truncated.index), term: Number(truncated.term) };
}
