/**
 * A transaction's writes before commit, by key: put (optionally "must not exist"), delete, or lock only
 * (a key locked for update without a change). Reads of the transaction see them first. Staging lets one
 * statement's writes be undone without the transaction's earlier ones: `stage()` opens a level, `release`
 * keeps its writes, `cleanup` undoes them (TiDB's memdb staging).
 */
import { compareBytes } from "#codec";
import { keyHex } from "../raw/key-range.ts";

export type BufferedWrite =
  | {
      readonly kind: "put";
      readonly key: Uint8Array;
      readonly value: Uint8Array;
      readonly mustNotExist: boolean;
    }
  | { readonly kind: "delete"; readonly key: Uint8Array }
  | { readonly kind: "lock"; readonly key: Uint8Array };

/** Undo records of one staging level: each key's entry before the level first wrote it. */
type UndoLog = Map<string, BufferedWrite | undefined>;

export class MemBuffer {
  private readonly writes = new Map<string, BufferedWrite>();
  private readonly stages: UndoLog[] = [];
  private sizeBytesValue = 0;

  get size(): number {
    return this.writes.size;
  }

  /** Key and value bytes buffered (for the TTL and the commit's batching). */
  get sizeBytes(): number {
    return this.sizeBytesValue;
  }

  get(key: Uint8Array): BufferedWrite | undefined {
    return this.writes.get(keyHex(key));
  }

  set(write: BufferedWrite): void {
    const name = keyHex(write.key);
    const previous = this.writes.get(name);
    const undo = this.stages.at(-1);
    if (undo !== undefined && !undo.has(name)) undo.set(name, previous);
    // Locking a key already written changes nothing: the write locks it at commit anyway.
    if (write.kind === "lock" && previous !== undefined && previous.kind !== "lock") return;
    this.replace(name, previous, write);
  }

  /** Opens a staging level; returns its handle (the depth after opening). */
  stage(): number {
    this.stages.push(new Map());
    return this.stages.length;
  }

  /** Keeps the level's writes, folding its undo records into the level below. */
  release(handle: number): void {
    const undo = this.popStage(handle);
    const below = this.stages.at(-1);
    if (below === undefined) return;
    for (const [name, previous] of undo) if (!below.has(name)) below.set(name, previous);
  }

  /** Undoes every write of the level. */
  cleanup(handle: number): void {
    const undo = this.popStage(handle);
    for (const [name, previous] of undo) {
      const current = this.writes.get(name);
      if (previous === undefined) {
        if (current !== undefined) this.replace(name, current, undefined);
      } else {
        this.replace(name, current, previous);
      }
    }
  }

  /** Every write, in key order. */
  sorted(): BufferedWrite[] {
    return [...this.writes.values()].sort((left, right) => compareBytes(left.key, right.key));
  }

  /** Writes of keys in [startKey, endKey) (empty end = unbounded), in key order (descending when reverse). */
  range(startKey: Uint8Array, endKey: Uint8Array, reverse: boolean): BufferedWrite[] {
    const inRange = this.sorted().filter(
      (write) =>
        compareBytes(write.key, startKey) >= 0 &&
        (endKey.length === 0 || compareBytes(write.key, endKey) < 0),
    );
    return reverse ? inRange.reverse() : inRange;
  }

  private popStage(handle: number): UndoLog {
    if (handle !== this.stages.length) {
      throw new RangeError(`staging handle ${handle} is not the innermost level (${this.stages.length})`);
    }
    return this.stages.pop()!;
  }

  private replace(name: string, previous: BufferedWrite | undefined, next: BufferedWrite | undefined): void {
    if (previous !== undefined) this.sizeBytesValue -= sizeOf(previous);
    if (next === undefined) {
      this.writes.delete(name);
      return;
    }
    this.writes.set(name, next);
    this.sizeBytesValue += sizeOf(next);
  }
}

function sizeOf(write: BufferedWrite): number {
  return write.key.length + (write.kind === "put" ? write.value.length : 0);
}
