/**
 * What a store holds of a range of keys once every transaction has ended, in the model's terms: each
 * key's committed Put and Delete versions (Lock and Rollback records change no value), the locks left,
 * and values in the default column family that no version points to (a rollback or GC that forgot one).
 * Reads any MvccStorage: the in-memory one, or a store's region as its RocksDB holds it.
 */
import { compareBytes, decodeBytes, decodeMvccKey, encodeBytes } from "#codec";
import { MvccReader } from "../../mvcc/mvcc-reader.ts";
import type { MvccScanOptions, MvccStorage, TxnColumnFamily } from "../../mvcc/mvcc-storage.ts";
import { decodeWriteRecord } from "../../mvcc/write-record.ts";
import type { ModelVersion } from "./snapshot-isolation-model.ts";
import type { KeyRange } from "./txn-requests.ts";

export interface StoreHistory {
  /** Hex key → versions, newest first, keys in order. */
  readonly versions: ReadonlyMap<string, readonly ModelVersion[]>;
  readonly lockedKeys: readonly string[];
  readonly orphanValues: readonly string[];
}

const hex = (key: Uint8Array) => Buffer.from(key).toString("hex");
/** Far more than a workload writes; reaching it means the range holds more than the test put there. */
const MAX_ENTRIES = 100_000;

export const printable = (value: Uint8Array | undefined): string =>
  value === undefined ? "(absent)" : Buffer.from(value).toString();

/** One line per key: `hexkey: commit_ts=value …`, newest first. */
export function describeVersions(versions: StoreHistory["versions"]): string[] {
  return [...versions].map(
    ([key, list]) =>
      `${key}: ${list.map((version) => `${version.commitTs}=${printable(version.value)}`).join(" ")}`,
  );
}

/** Everything the history holds, one line per key, lock and orphan value, for comparing two stores. */
export function describeHistory(history: StoreHistory): string[] {
  return [
    ...describeVersions(history.versions),
    ...history.lockedKeys.map((key) => `lock on ${key}`),
    ...history.orphanValues.map((value) => `orphan value ${value}`),
  ];
}

export async function readStoreHistory(storage: MvccStorage, range: KeyRange): Promise<StoreHistory> {
  const reader = new MvccReader(storage);
  // Encoded keys sort like user keys, and a key's versions (key ++ ~ts) sort right after its encoding.
  const inRange: MvccScanOptions = {
    gte: encodeBytes(range.startKey),
    lt: range.endKey.length === 0 ? undefined : encodeBytes(range.endKey),
    reverse: false,
    limit: MAX_ENTRIES,
  };
  const scan = async (cf: TxnColumnFamily) => {
    const entries = await storage.scan(cf, inRange);
    if (entries.length === MAX_ENTRIES) throw new RangeError(`over ${MAX_ENTRIES} entries in the ${cf} CF`);
    return entries;
  };
  const versions = new Map<string, ModelVersion[]>();
  const referencedValues = new Set<string>();
  for (const entry of await scan("write")) {
    const { userKey, ts } = decodeMvccKey(entry.key);
    const write = decodeWriteRecord(entry.value);
    if (write.type !== "put" && write.type !== "delete") continue;
    const value = write.type === "put" ? await reader.loadValue(userKey, write) : undefined;
    if (write.type === "put" && write.shortValue === undefined)
      referencedValues.add(`${hex(userKey)}@${write.startTs}`);
    const list = versions.get(hex(userKey)) ?? [];
    list.push({ commitTs: ts, value });
    versions.set(hex(userKey), list);
  }
  const orphanValues: string[] = [];
  for (const entry of await scan("default")) {
    const { userKey, ts } = decodeMvccKey(entry.key);
    if (!referencedValues.has(`${hex(userKey)}@${ts}`)) orphanValues.push(`${hex(userKey)}@${ts}`);
  }
  const lockedKeys = (await scan("lock")).map((entry) => hex(decodeBytes(entry.key, 0).value));
  const ordered = new Map(
    [...versions.entries()].sort(([a], [b]) => compareBytes(Buffer.from(a, "hex"), Buffer.from(b, "hex"))),
  );
  return { versions: ordered, lockedKeys, orphanValues };
}
