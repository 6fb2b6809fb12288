/**
 * Walks one column family's range a page at a time, so a scan that stops early (a limit reached, a key's
 * versions exhausted) reads only a little past where it stopped, and memory stays bounded by the page.
 */
import type { MvccEntry, MvccStorage, TxnColumnFamily } from "./mvcc-storage.ts";

export const DEFAULT_PAGE_ENTRIES = 64;

export class PagedCursor {
  private page: readonly MvccEntry[] = [];
  private position = 0;
  private exhausted = false;
  private lower: Uint8Array;
  private upper: Uint8Array | undefined;

  constructor(
    private readonly storage: MvccStorage,
    private readonly cf: TxnColumnFamily,
    range: { readonly gte: Uint8Array; readonly lt: Uint8Array | undefined },
    private readonly reverse: boolean,
    private readonly pageEntries = DEFAULT_PAGE_ENTRIES,
  ) {
    this.lower = range.gte;
    this.upper = range.lt;
  }

  async peek(): Promise<MvccEntry | undefined> {
    if (this.position < this.page.length) return this.page[this.position];
    if (this.exhausted) return undefined;
    this.page = await this.storage.scan(this.cf, {
      gte: this.lower,
      lt: this.upper,
      reverse: this.reverse,
      limit: this.pageEntries,
    });
    this.position = 0;
    if (this.page.length < this.pageEntries) this.exhausted = true;
    const last = this.page[this.page.length - 1];
    if (last !== undefined) {
      // The next page starts right after the last entry: its key plus a zero byte is the smallest key
      // above it, and a reverse page simply ends before it.
      if (this.reverse) this.upper = last.key;
      else this.lower = successor(last.key);
    }
    return this.page[0];
  }

  advance(): void {
    this.position++;
  }
}

function successor(key: Uint8Array): Uint8Array {
  const next = new Uint8Array(key.length + 1);
  next.set(key);
  return next;
}
