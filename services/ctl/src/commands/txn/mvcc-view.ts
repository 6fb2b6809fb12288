/**
 * `txn mvcc KEY`: everything stored for one key, as its region's leader holds it (tikv-ctl's `mvcc -k`):
 * the lock, every write record newest first, and the values too long to live in their write record
 * (default CF, by the start_ts that wrote them).
 */
import { Metadata } from "@grpc/grpc-js";
import { kvrpcpb } from "#proto";
import { formatFields, formatTable } from "../../table.ts";
import type { CommandResult } from "../command-result.ts";
import type { LeaderRoute, RegionLeaderRpc } from "./region-leader-rpc.ts";
import { type RegionDirectory, regionHolding } from "./regions.ts";
import { StoreRefusedError } from "./txn-errors.ts";
import { lockTypeName, type TxnPrinter, timestampCell, writeTypeName, yesNo } from "./txn-format.ts";

export interface KeyMvcc {
  readonly route: LeaderRoute;
  readonly response: kvrpcpb.MvccGetByKeyResponse;
}

export async function fetchMvcc(
  pd: RegionDirectory,
  rpc: RegionLeaderRpc,
  key: Uint8Array,
): Promise<KeyMvcc> {
  const relocate = () => regionHolding(pd, key);
  const { response, route } = await rpc.call<kvrpcpb.MvccGetByKeyResponse>(
    "MvccGetByKey",
    await relocate(),
    relocate,
    ({ client, context }, options, done) =>
      client.mvccGetByKey({ context, key }, new Metadata(), options, done),
  );
  if (response.error !== "")
    throw new StoreRefusedError(route.storeId, route.address, "MvccGetByKey", response.error);
  return { route, response };
}

const WRITE_COLUMNS = [
  { header: "COMMIT_TS", align: "right" },
  { header: "TYPE" },
  { header: "START_TS", align: "right" },
  { header: "SHORT_VALUE" },
  { header: "OVERLAPPED_ROLLBACK" },
] as const;

const VALUE_COLUMNS = [{ header: "START_TS", align: "right" }, { header: "VALUE" }] as const;

/** Exit code 1 when the key has nothing stored at all, as `kv get` does for a missing key. */
export function mvccResult(key: Uint8Array, mvcc: KeyMvcc, printer: TxnPrinter): CommandResult {
  const { route, response } = mvcc;
  const empty = response.lock === undefined && response.writes.length === 0 && response.values.length === 0;
  const json = {
    key: printer.key(key),
    region_id: route.region.id.toString(),
    store_id: route.storeId.toString(),
    lock: response.lock === undefined ? null : printer.lockJson(response.lock),
    writes: response.writes.map((write) => ({
      type: writeTypeName(write.type),
      start_ts: write.startTs.toString(),
      commit_ts: write.commitTs.toString(),
      short_value: printer.value(write.shortValue),
      has_overlapped_rollback: write.hasOverlappedRollback,
    })),
    values: response.values.map((value) => ({
      start_ts: value.startTs.toString(),
      value: printer.value(value.value),
    })),
    truncated: response.truncated,
  };
  const header = formatFields([
    ["key", printer.key(key)],
    ["region", `${route.region.id} (leader on store ${route.storeId} at ${route.address})`],
  ]);
  const sections = empty
    ? [header, "(no lock, versions or values)"]
    : [
        header,
        lockSection(response.lock, printer),
        `writes (newest first):\n${formatTable(WRITE_COLUMNS, writeRows(response, printer))}`,
        `default CF values (newest first):\n${formatTable(VALUE_COLUMNS, valueRows(response, printer))}`,
      ];
  if (response.truncated) {
    sections.push("(truncated: the key has more versions or values than the store returns at once)");
  }
  return { json, text: sections.join("\n\n"), ...(empty ? { exitCode: 1 } : {}) };
}

function lockSection(lock: kvrpcpb.LockInfo | undefined, printer: TxnPrinter): string {
  if (lock === undefined) return "lock: (none)";
  const fields = formatFields([
    ["type", lockTypeName(lock.lockType)],
    ["primary", printer.key(lock.primaryLock)],
    ["start_ts", lock.lockTs.toString()],
    ["ttl_ms", lock.lockTtlMs.toString()],
    ["for_update_ts", timestampCell(lock.lockForUpdateTs)],
    ["min_commit_ts", timestampCell(lock.minCommitTs)],
    ["async commit", yesNo(lock.useAsyncCommit)],
    ["txn_size", lock.txnSize.toString()],
    [
      "secondaries",
      lock.secondaries.length === 0 ? "-" : lock.secondaries.map((key) => printer.key(key)).join(", "),
    ],
  ]);
  return `lock:\n${indent(fields)}`;
}

function writeRows(response: kvrpcpb.MvccGetByKeyResponse, printer: TxnPrinter): string[][] {
  const longValues = new Set(response.values.map((value) => value.startTs));
  return response.writes.map((write) => [
    write.commitTs.toString(),
    writeTypeName(write.type),
    write.startTs.toString(),
    shortValueCell(write, longValues.has(write.startTs), printer),
    yesNo(write.hasOverlappedRollback),
  ]);
}

/** A put whose value was too long for its write record points to the default-CF row of its start_ts. */
function shortValueCell(write: kvrpcpb.MvccWrite, inDefaultCf: boolean, printer: TxnPrinter): string {
  if (write.shortValue.length > 0) return printer.value(write.shortValue);
  return write.type === kvrpcpb.MvccWriteType.PUT && inDefaultCf ? "(in default CF)" : "-";
}

function valueRows(response: kvrpcpb.MvccGetByKeyResponse, printer: TxnPrinter): string[][] {
  return response.values.map((value) => [value.startTs.toString(), printer.value(value.value)]);
}

function indent(text: string): string {
  return text
    .split("\n")
    .map((line) => `  ${line}`)
    .join("\n");
}
