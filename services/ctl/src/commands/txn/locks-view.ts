/** `txn locks` output: one row per lock in key order, and whether the limit cut the list short. */
import { formatTable } from "../../table.ts";
import type { CommandResult } from "../command-result.ts";
import type { RegionLock } from "./scan-locks.ts";
import { lockTypeName, type TxnPrinter, timestampCell, yesNo } from "./txn-format.ts";

const COLUMNS = [
  { header: "REGION", align: "right" },
  { header: "KEY" },
  { header: "PRIMARY" },
  { header: "TYPE" },
  { header: "START_TS", align: "right" },
  { header: "TTL_MS", align: "right" },
  { header: "FOR_UPDATE_TS", align: "right" },
  { header: "MIN_COMMIT_TS", align: "right" },
  { header: "ASYNC_COMMIT" },
] as const;

export function locksResult(locks: readonly RegionLock[], limit: number, printer: TxnPrinter): CommandResult {
  const rows = locks.map(({ regionId, lock }) => [
    regionId.toString(),
    printer.key(lock.key),
    printer.key(lock.primaryLock),
    lockTypeName(lock.lockType),
    lock.lockTs.toString(),
    lock.lockTtlMs.toString(),
    timestampCell(lock.lockForUpdateTs),
    timestampCell(lock.minCommitTs),
    yesNo(lock.useAsyncCommit),
  ]);
  // Exactly `limit` found: the walk stopped there, so more may follow.
  const limitReached = locks.length === limit;
  const json = {
    count: locks.length,
    limit_reached: limitReached,
    locks: locks.map(({ regionId, lock }) => ({ region_id: regionId.toString(), ...printer.lockJson(lock) })),
  };
  const count = `${locks.length} ${locks.length === 1 ? "lock" : "locks"}`;
  const summary = limitReached ? `${count} (--limit reached; there may be more)` : count;
  return { json, text: `${formatTable(COLUMNS, rows)}\n${summary}` };
}
