/**
 * The raw writes of the apply batch being built, so a compare-and-swap sees the writes of earlier entries
 * in the same batch before they reach RocksDB. Keys are user keys.
 */
import { compareBytes } from "#codec";

export type OverlayLookup =
  | { readonly known: true; readonly value: Uint8Array | undefined }
  | { readonly known: false };

const UNKNOWN: OverlayLookup = { known: false };

/** A Map key for a byte key (one char per byte). */
export function overlayKey(key: Uint8Array): string {
  return Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString("latin1");
}

export class ApplyOverlay {
  /** Latest write per key in this batch; undefined records a delete. */
  private readonly writes = new Map<string, Uint8Array | undefined>();
  /** Deleted ranges not overwritten by a later put (those puts live in `writes`). */
  private readonly deletedRanges: Array<{ readonly start: Uint8Array; readonly end: Uint8Array }> = [];

  put(key: Uint8Array, value: Uint8Array): void {
    this.writes.set(overlayKey(key), value);
  }

  delete(key: Uint8Array): void {
    this.writes.set(overlayKey(key), undefined);
  }

  /** [start, end); an empty end means unbounded. */
  deleteRange(start: Uint8Array, end: Uint8Array): void {
    for (const key of this.writes.keys()) {
      const bytes = Buffer.from(key, "latin1");
      if (inRange(bytes, start, end)) this.writes.set(key, undefined);
    }
    this.deletedRanges.push({ start, end });
  }

  lookup(key: Uint8Array): OverlayLookup {
    const text = overlayKey(key);
    if (this.writes.has(text)) return { known: true, value: this.writes.get(text) };
    for (const range of this.deletedRanges) {
      if (inRange(key, range.start, range.end)) return { known: true, value: undefined };
    }
    return UNKNOWN;
  }
}

function inRange(key: Uint8Array, start: Uint8Array, end: Uint8Array): boolean {
  return compareBytes(key, start) >= 0 && (end.length === 0 || compareBytes(key, end) < 0);
}
