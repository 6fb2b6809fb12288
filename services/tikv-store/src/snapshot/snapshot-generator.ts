/**
 * A region snapshot from ONE consistent RocksDB view of the kv engine: the region meta and apply state are
 * read from the same view as the data, so the data is exactly the state at the snapshot's index.
 */

import { metapb, raft_serverpb } from "#proto";
import type { ConfState } from "#raft";
import type { Snapshot } from "#rocksdb";
import { regionDataSpans } from "../engine/keys.ts";
import {
  DATA_COLUMN_FAMILIES,
  type KvEngine,
  readApplyState,
  readRegionState,
  spanRange,
} from "../engine/kv-engine.ts";
import { toSafeNumber } from "../engine/raft-log-store.ts";
import { DEFAULT_CHUNK_SIZE_BYTES, SNAPSHOT_FORMAT_VERSION, SnapshotEncoder } from "./snapshot-codec.ts";
import type { SnapshotKey } from "./snapshot-store.ts";

export interface GenerateSnapshotOptions {
  /**
   * Term of the entry at `index` (the applied index), from the caller's raft log. Only asked when the
   * applied index is above the truncated index (otherwise the apply state's truncated term is used).
   */
  readonly termOf: (index: number) => number;
  readonly chunkSizeBytes?: number;
}

export interface SnapshotMetadataInfo extends SnapshotKey {
  readonly region: metapb.Region;
  /** Voters and learners of `region`, for the raft snapshot's metadata. */
  readonly confState: ConfState;
  /** Encoded raft_serverpb.RaftSnapshotData: the `data` of the raft snapshot message. */
  readonly data: Uint8Array;
}

export interface GeneratedSnapshot {
  readonly metadata: SnapshotMetadataInfo;
  /**
   * The snapshot stream. Each iteration re-reads the same pinned view, so one snapshot can be sent to
   * several followers or re-sent after a failure, until `release`.
   */
  readonly chunks: AsyncIterable<Uint8Array>;
  /** Unpins the RocksDB view; iterations started afterwards fail. */
  release(): Promise<void>;
}

export class SnapshotGenerationError extends Error {
  override readonly name = "SnapshotGenerationError";
  constructor(
    readonly regionId: bigint,
    readonly detail: string,
  ) {
    super(`cannot generate a snapshot of region ${regionId}: ${detail}`);
  }
}

/**
 * Pins a view of the kv engine synchronously (before the first await), so the snapshot reflects every
 * write completed before the call and none after.
 */
export async function generateSnapshot(
  kvEngine: KvEngine,
  regionId: bigint,
  options: GenerateSnapshotOptions,
): Promise<GeneratedSnapshot> {
  const view = kvEngine.snapshot();
  try {
    const metadata = await readMetadata(view, regionId, options);
    const chunkSizeBytes = options.chunkSizeBytes ?? DEFAULT_CHUNK_SIZE_BYTES;
    return {
      metadata,
      chunks: { [Symbol.asyncIterator]: () => encodeRegion(view, metadata, chunkSizeBytes) },
      release: () => view.release(),
    };
  } catch (error) {
    await view.release();
    throw error;
  }
}

async function readMetadata(
  view: Snapshot,
  regionId: bigint,
  options: GenerateSnapshotOptions,
): Promise<SnapshotMetadataInfo> {
  const [regionState, applyState] = await Promise.all([
    readRegionState(view, regionId),
    readApplyState(view, regionId),
  ]);
  const region = regionState?.region;
  if (!region || regionState.state !== raft_serverpb.PeerState.NORMAL) {
    throw new SnapshotGenerationError(regionId, `region state is ${regionState?.state ?? "missing"}`);
  }
  if (!applyState) throw new SnapshotGenerationError(regionId, "no apply state");
  const index = toSafeNumber(applyState.appliedIndex, "applied index");
  const truncated = applyState.truncatedState;
  const term =
    truncated && toSafeNumber(truncated.index, "truncated index") === index
      ? toSafeNumber(truncated.term, "truncated term")
      : options.termOf(index);
  const data = raft_serverpb.RaftSnapshotData.encode({
    region,
    // The stream is produced from the pinned view while it is sent, so its size is unknown here, and
    // reading the view twice to measure it would double the cost of every snapshot. Receivers do not
    // need it: the trailer's counts and checksum prove the stream whole (snapshot-codec.ts).
    fileSize: 0n,
    data: [],
    version: BigInt(SNAPSHOT_FORMAT_VERSION),
  }).finish();
  return { regionId, index, term, region, confState: confStateOf(region), data };
}

export function confStateOf(region: metapb.Region): ConfState {
  const voters: number[] = [];
  const learners: number[] = [];
  for (const peer of region.peers) {
    const id = toSafeNumber(peer.id, "peer id");
    (peer.role === metapb.PeerRole.LEARNER ? learners : voters).push(id);
  }
  return { voters, learners };
}

async function* encodeRegion(
  view: Snapshot,
  metadata: SnapshotMetadataInfo,
  chunkSizeBytes: number,
): AsyncGenerator<Uint8Array> {
  const encoder = new SnapshotEncoder(chunkSizeBytes);
  encoder.header(metadata);
  for (const span of regionDataSpans(metadata.region.startKey, metadata.region.endKey)) {
    for (const columnFamily of DATA_COLUMN_FAMILIES) {
      for await (const { key, value } of view.iterate(columnFamily, spanRange(span))) {
        encoder.keyValue(columnFamily, key, value);
        yield* encoder.takeChunks();
      }
    }
  }
  encoder.trailer();
  yield* encoder.takeChunks();
}
