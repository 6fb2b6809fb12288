/**
 * What the store holds once every transaction has ended, in the model's terms: each key's committed Put
 * and Delete versions (Lock and Rollback records change no value), the locks left, and values in the
 * default column family that no version points to (a rollback or GC that forgot one).
 */
import { compareBytes, decodeBytes, decodeMvccKey } from "#codec";
import { MvccReader } from "../../mvcc/mvcc-reader.ts";
import { decodeWriteRecord } from "../../mvcc/write-record.ts";
import type { MemoryMvccStorage } from "../memory-mvcc-storage.ts";
import type { ModelVersion } from "./snapshot-isolation-model.ts";

export interface StoreHistory {
  /** Hex key → versions, newest first, keys in order. */
  readonly versions: ReadonlyMap<string, readonly ModelVersion[]>;
  readonly lockedKeys: readonly string[];
  readonly orphanValues: readonly string[];
}

const EVERYTHING = { gte: new Uint8Array(0), lt: undefined, reverse: false, limit: Number.MAX_SAFE_INTEGER };
const hex = (key: Uint8Array) => Buffer.from(key).toString("hex");

export async function readStoreHistory(storage: MemoryMvccStorage): Promise<StoreHistory> {
  const reader = new MvccReader(storage);
  const versions = new Map<string, ModelVersion[]>();
  const referencedValues = new Set<string>();
  for (const entry of await storage.scan("write", EVERYTHING)) {
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
  for (const entry of await storage.scan("default", EVERYTHING)) {
    const { userKey, ts } = decodeMvccKey(entry.key);
    if (!referencedValues.has(`${hex(userKey)}@${ts}`)) orphanValues.push(`${hex(userKey)}@${ts}`);
  }
  const lockedKeys = (await storage.scan("lock", EVERYTHING)).map((entry) =>
    hex(decodeBytes(entry.key, 0).value),
  );
  const ordered = new Map(
    [...versions.entries()].sort(([a], [b]) => compareBytes(Buffer.from(a, "hex"), Buffer.from(b, "hex"))),
  );
  return { versions: ordered, lockedKeys, orphanValues };
}
