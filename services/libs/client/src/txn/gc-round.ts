/**
 * One round of MVCC garbage collection below a safe point (TiDB's GC worker, one round): resolve every
 * lock older than the safe point (so no transaction that could still commit below it is left
 * undecided), publish the safe point to pd (which never lets it go backwards), then have every region
 * drop the versions no reader at or above the safe point can see. Regions are walked in key order, so a
 * region that split or moved meanwhile is simply located again.
 */
import { kvrpcpb } from "#proto";
import { successorKey } from "../raw/key-range.ts";
import { RegionRetry } from "../rpc/region-retry.ts";
import type { LockResolver } from "./lock-resolver.ts";
import { TxnError, UnexpectedKeyError } from "./txn-errors.ts";
import type { TxnParts } from "./txn-parts.ts";

/** What a GC round asks pd. */
export interface GcPd {
  /** Raises the cluster's GC safe point; answers the safe point now in force (never lower than before). */
  updateGcSafePoint(safePoint: bigint): Promise<bigint>;
  getGcSafePoint(): Promise<bigint>;
}

export interface GcRoundReport {
  /** The safe point in force after the round (pd's answer). */
  readonly safePoint: bigint;
  readonly locksResolved: number;
  readonly regionsCollected: number;
}

/** A transaction older than the safe point still holds a live lock: this round cannot move past it. */
export class GcBlockedError extends TxnError {
  override readonly name = "GcBlockedError";
}

const SCAN_LOCK_PAGE = 256;

export async function runGcRound(
  parts: TxnParts,
  resolver: LockResolver,
  pd: GcPd,
  safePoint: bigint,
): Promise<GcRoundReport> {
  const locksResolved = await resolveLocksBelow(parts, resolver, safePoint);
  const inForce = await pd.updateGcSafePoint(safePoint);
  const regionsCollected = await collectEveryRegion(parts, inForce);
  return { safePoint: inForce, locksResolved, regionsCollected };
}

async function resolveLocksBelow(
  parts: TxnParts,
  resolver: LockResolver,
  safePoint: bigint,
): Promise<number> {
  const retry = new RegionRetry(parts.newBackoffer(parts.settings.commitBudgetMs));
  let resolved = 0;
  let position: Uint8Array = new Uint8Array(0);
  for (;;) {
    const location = await parts.cache.locateKey(position, retry.backoffer);
    const start = position;
    const result = await parts.sender.send(
      location,
      "scanLock",
      (context) =>
        kvrpcpb.ScanLockRequest.fromPartial({
          context,
          maxTs: safePoint,
          startKey: start,
          endKey: location.endKey,
          limit: SCAN_LOCK_PAGE,
        }),
      retry,
    );
    if (result.kind === "relocate") continue;
    const { locks, error } = result.response;
    if (error !== undefined) throw new UnexpectedKeyError(`ScanLock`, error);
    if (locks.length > 0) {
      const outcome = await resolver.resolve(locks, 0n, retry);
      if (outcome.msBeforeExpired > 0) {
        throw new GcBlockedError(
          `a transaction older than the GC safe point ${safePoint} is still running (a lock of start_ts ${locks[0]!.lockTs} is alive); not collecting this round`,
        );
      }
      resolved += locks.length;
    }
    if (locks.length === SCAN_LOCK_PAGE) {
      position = successorKey(locks.at(-1)!.key);
      continue;
    }
    if (location.endKey.length === 0) return resolved;
    position = location.endKey;
  }
}

async function collectEveryRegion(parts: TxnParts, safePoint: bigint): Promise<number> {
  const retry = new RegionRetry(parts.newBackoffer(parts.settings.commitBudgetMs));
  let regions = 0;
  let position: Uint8Array = new Uint8Array(0);
  for (;;) {
    const location = await parts.cache.locateKey(position, retry.backoffer);
    const result = await parts.sender.send(location, "gc", (context) => ({ context, safePoint }), retry);
    if (result.kind === "relocate") continue;
    if (result.response.error !== undefined) {
      throw new UnexpectedKeyError(`KvGC`, result.response.error);
    }
    regions++;
    if (location.endKey.length === 0) return regions;
    position = location.endKey;
  }
}
