/**
 * MvccStorage over sorted in-memory arrays, for tests of the MVCC layer and the transactional actions:
 * they run against this what production runs against RocksDB, and apply an action's modifications the
 * way the raft apply does.
 */
import { compareBytes } from "#codec";
import type { MvccEntry, MvccScanOptions, MvccStorage, TxnColumnFamily } from "../mvcc/mvcc-storage.ts";
import type { Modify } from "../mvcc/mvcc-txn.ts";

export class MemoryMvccStorage implements MvccStorage {
  private readonly families: Record<TxnColumnFamily, MvccEntry[]> = { default: [], lock: [], write: [] };

  async get(cf: TxnColumnFamily, key: Uint8Array): Promise<Uint8Array | undefined> {
    const entries = this.families[cf];
    const index = lowerBound(entries, key);
    const entry = entries[index];
    return entry !== undefined && compareBytes(entry.key, key) === 0 ? entry.value : undefined;
  }

  async scan(cf: TxnColumnFamily, options: MvccScanOptions): Promise<readonly MvccEntry[]> {
    const entries = this.families[cf];
    const start = lowerBound(entries, options.gte);
    const end = options.lt === undefined ? entries.length : lowerBound(entries, options.lt);
    const inRange = entries.slice(start, Math.max(start, end));
    if (options.reverse) inRange.reverse();
    return inRange.slice(0, options.limit);
  }

  apply(modifies: readonly Modify[]): void {
    for (const modify of modifies) {
      const entries = this.families[modify.cf];
      const index = lowerBound(entries, modify.key);
      const exists = entries[index] !== undefined && compareBytes(entries[index]!.key, modify.key) === 0;
      if (modify.type === "put") {
        const entry = { key: Uint8Array.from(modify.key), value: Uint8Array.from(modify.value) };
        if (exists) entries[index] = entry;
        else entries.splice(index, 0, entry);
      } else if (exists) {
        entries.splice(index, 1);
      }
    }
  }

  /** Entries per column family, for assertions on what is stored. */
  count(cf: TxnColumnFamily): number {
    return this.families[cf].length;
  }
}

function lowerBound(entries: readonly MvccEntry[], key: Uint8Array): number {
  let low = 0;
  let high = entries.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (compareBytes(entries[middle]!.key, key) < 0) low = middle + 1;
    else high = middle;
  }
  return low;
}
