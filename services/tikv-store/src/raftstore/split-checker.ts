/**
 * Region splits. The checker measures a leader's region (size and key count, by scanning its data) once
 * it has grown by a sixteenth of the split thresholds since the last measure; over the thresholds it
 * asks pd for ids (AskBatchSplit) and proposes a BatchSplit at the keys the measure chose. An explicit
 * split (pd operator, ctl, tests) takes the same path with given keys, or, without keys (pd's SCAN and
 * APPROXIMATE policies), at the key that halves the region's data.
 */
import { compareBytes } from "#codec";
import type { metapb, raft_cmdpb } from "#proto";
import { measureRegion, type RegionSizeEstimate } from "../engine/kv-engine.ts";
import type { Peer } from "./peer.ts";
import { SPLIT_EPOCH_CHECK } from "./region-epoch.ts";
import { NotLeaderError, RegionError } from "./region-errors.ts";
import { keyInRegion } from "./region-meta.ts";
import type { StoreContext } from "./store-context.ts";
import { submitCommand } from "./submit-command.ts";
import type { Turn } from "./turn.ts";

/** A region grows by this fraction of a threshold between measures. */
const CHECK_DIFF_FRACTION = 16;
/** New regions one split produces at most. */
const MAX_SPLIT_KEYS = 16;

/** The split request itself is invalid (keys not ascending, outside the region, or pd's ids unusable). */
export class InvalidSplitError extends Error {
  override readonly name = "InvalidSplitError";
  constructor(
    readonly regionId: bigint,
    readonly reason: string,
  ) {
    super(`region ${regionId}: cannot split: ${reason}`);
  }
}

/**
 * Starts a measure of the leader's region in a background job when it has grown enough since the last
 * one; the measure comes back to the mailbox (`onRegionMeasured`).
 */
export function checkSplit(context: StoreContext, turn: Turn, peer: Peer): void {
  if (!peer.isLeader || !peer.initialized || peer.isGoingAway || peer.hasJob("split-check")) return;
  const { config } = context;
  const grown =
    peer.writtenBytes * CHECK_DIFF_FRACTION >= config.regionSplitSizeBytes ||
    peer.writtenKeys * CHECK_DIFF_FRACTION >= config.regionSplitKeys;
  if (peer.size.measured && !grown) return;
  if (!peer.startJob(turn, "split-check")) return;
  const region = peer.region;
  const spawned = context.scope.spawn(`split check of region ${peer.regionId}`, async () => {
    try {
      const estimate = await measureRegion(context.engines.kvEngine.db, region, {
        splitSizeBytes: config.regionSplitSizeBytes,
        splitKeys: config.regionSplitKeys,
        maxKeys: config.splitCheckMaxKeys,
        maxSplitKeys: MAX_SPLIT_KEYS,
      });
      peer.mailbox.push({ kind: "region-measured", estimate });
    } catch (error) {
      peer.mailbox.push({ kind: "job-done", job: "split-check" });
      throw error;
    } finally {
      context.wake(peer);
    }
  });
  if (!spawned) peer.finishJob(turn, "split-check");
}

/** A measure came back: records the size and, over the thresholds, splits in the same job. */
export function onRegionMeasured(
  context: StoreContext,
  turn: Turn,
  peer: Peer,
  estimate: RegionSizeEstimate,
): void {
  const { config } = context;
  peer.measured(turn, estimate.sizeBytes, estimate.keys);
  const over = estimate.sizeBytes > config.regionMaxSizeBytes || estimate.keys > config.regionSplitKeys;
  if (!over || estimate.splitKeys.length === 0 || peer.isGoingAway || !peer.isLeader) {
    peer.finishJob(turn, "split-check");
    return;
  }
  const spawned = context.scope.spawn(`split of region ${peer.regionId}`, async () => {
    try {
      await proposeSplit(context, peer, estimate.splitKeys);
    } catch (error) {
      if (!isExpectedSplitFailure(error)) throw error;
      context.logger.info({ regionId: peer.regionId, err: error }, "split check did not split");
    } finally {
      peer.mailbox.push({ kind: "job-done", job: "split-check" });
      context.wake(peer);
    }
  });
  if (!spawned) peer.finishJob(turn, "split-check");
}

/** The region changed or lost its leader while the split was prepared: the next check tries again. */
function isExpectedSplitFailure(error: unknown): boolean {
  return error instanceof RegionError;
}

/**
 * The key that splits the region's data in two halves by size (TiKV's half split), from one consistent
 * view measured twice: once for the total, once to find where half of it is reached. Undefined when the
 * region holds fewer than two raw keys (no key leaves data on both sides).
 */
export async function middleSplitKey(
  context: StoreContext,
  region: metapb.Region,
): Promise<Uint8Array | undefined> {
  const view = context.engines.kvEngine.snapshot();
  try {
    const maxKeys = context.config.splitCheckMaxKeys;
    const whole = await measureRegion(view, region, {
      splitSizeBytes: Number.POSITIVE_INFINITY,
      splitKeys: Number.POSITIVE_INFINITY,
      maxKeys,
      maxSplitKeys: 0,
    });
    if (whole.keys < 2) return undefined;
    const half = await measureRegion(view, region, {
      splitSizeBytes: Math.max(1, Math.floor(whole.sizeBytes / 2)),
      splitKeys: Number.POSITIVE_INFINITY,
      maxKeys,
      maxSplitKeys: 1,
    });
    return half.splitKeys[0];
  } finally {
    await view.release();
  }
}

/** Splits at the middle of the region's data; fails when there is no key to split at. */
export async function proposeHalfSplit(context: StoreContext, peer: Peer): Promise<metapb.Region[]> {
  const key = await middleSplitKey(context, peer.region);
  if (key === undefined) throw new InvalidSplitError(peer.regionId, "the region holds no key to split at");
  return proposeSplit(context, peer, [key]);
}

/** Asks pd for ids and proposes the split; resolves with the regions it produced (parent first). */
export async function proposeSplit(
  context: StoreContext,
  peer: Peer,
  splitKeys: readonly Uint8Array[],
): Promise<metapb.Region[]> {
  const region = peer.region;
  const problem = splitKeysProblem(region, splitKeys);
  if (problem !== undefined) throw new InvalidSplitError(region.id, problem);
  const ids = await context.pd.askBatchSplit(region, splitKeys.length);
  if (ids.length !== splitKeys.length || ids.some((id) => id.newPeerIds.length !== region.peers.length)) {
    throw new InvalidSplitError(region.id, `pd returned ${ids.length} id sets for ${splitKeys.length} keys`);
  }
  if (peer.destroyed || !peer.isLeader) throw new NotLeaderError(region.id, peer.leaderPeer());
  const admin: raft_cmdpb.AdminRequest = {
    cmd: {
      $case: "batchSplit",
      value: {
        requests: splitKeys.map((splitKey, index) => ({
          splitKey,
          newRegionId: ids[index]!.newRegionId,
          newPeerIds: ids[index]!.newPeerIds,
        })),
      },
    },
  };
  // Built against the region as it is now: if it changed while pd answered, the epoch check refuses it.
  const response = await submitCommand(context, peer, { kind: "admin", admin }, SPLIT_EPOCH_CHECK, region);
  const result = response.adminResponse?.cmd;
  if (result?.$case !== "batchSplit")
    throw new InvalidSplitError(region.id, "the split applied without regions");
  return result.value.regions;
}

function splitKeysProblem(region: metapb.Region, splitKeys: readonly Uint8Array[]): string | undefined {
  if (splitKeys.length === 0) return "no split keys";
  let previous = region.startKey;
  for (const key of splitKeys) {
    if (key.length === 0) return "an empty split key";
    if (!keyInRegion(key, region)) return "a split key outside the region";
    if (compareBytes(key, previous) <= 0) return "split keys must ascend strictly above the region start";
    previous = key;
  }
  return undefined;
}
