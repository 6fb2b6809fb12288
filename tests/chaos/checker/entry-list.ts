// The WGL entry list: every operation contributes a call entry and a return entry, ordered by time, in a
// doubly linked list from which a linearized operation's pair is lifted (and later unlifted on backtrack)
// in O(1), dancing-links style.

export interface TimedOperation {
  readonly invokeMs: number;
  /** Infinity for an operation whose outcome is unknown: it may take effect at any time after its invoke. */
  readonly returnMs: number;
}

export const NO_ENTRY = -1;

export class EntryList {
  /** Index of the sentinel that precedes the first entry. */
  private readonly head: number;
  private readonly next: Int32Array;
  private readonly previous: Int32Array;
  private readonly operationOfEntry: Int32Array;
  private readonly isCallEntry: Uint8Array;
  private readonly returnOfCall: Int32Array;

  constructor(operations: readonly TimedOperation[]) {
    const entryCount = operations.length * 2;
    this.head = entryCount;
    this.next = new Int32Array(entryCount + 1).fill(NO_ENTRY);
    this.previous = new Int32Array(entryCount + 1).fill(NO_ENTRY);
    this.operationOfEntry = new Int32Array(entryCount);
    this.isCallEntry = new Uint8Array(entryCount);
    this.returnOfCall = new Int32Array(entryCount).fill(NO_ENTRY);
    // Entry 2i is operation i's call, 2i+1 its return.
    for (let operation = 0; operation < operations.length; operation++) {
      this.operationOfEntry[2 * operation] = operation;
      this.operationOfEntry[2 * operation + 1] = operation;
      this.isCallEntry[2 * operation] = 1;
      this.returnOfCall[2 * operation] = 2 * operation + 1;
    }
    this.link(sortedEntries(operations));
  }

  first(): number {
    return this.next[this.head]!;
  }

  following(entry: number): number {
    return this.next[entry]!;
  }

  isCall(entry: number): boolean {
    return this.isCallEntry[entry] === 1;
  }

  operationOf(entry: number): number {
    return this.operationOfEntry[entry]!;
  }

  /** Removes a call entry and its return entry. */
  lift(call: number): void {
    this.unlink(call);
    this.unlink(this.returnOfCall[call]!);
  }

  /** Undoes the matching `lift`; lifts must be undone in reverse order. */
  unlift(call: number): void {
    this.relink(this.returnOfCall[call]!);
    this.relink(call);
  }

  private link(order: readonly number[]): void {
    let previous = this.head;
    for (const entry of order) {
      this.next[previous] = entry;
      this.previous[entry] = previous;
      previous = entry;
    }
  }

  private unlink(entry: number): void {
    const before = this.previous[entry]!;
    const after = this.next[entry]!;
    this.next[before] = after;
    if (after !== NO_ENTRY) this.previous[after] = before;
  }

  private relink(entry: number): void {
    const before = this.previous[entry]!;
    const after = this.next[entry]!;
    this.next[before] = entry;
    if (after !== NO_ENTRY) this.previous[after] = entry;
  }
}

/**
 * Entries by time. At equal times calls come before returns, so two operations whose timestamps touch
 * count as concurrent: millisecond clocks cannot order them, and treating them as ordered could report
 * a violation that did not happen.
 */
function sortedEntries(operations: readonly TimedOperation[]): number[] {
  const timeOf = (entry: number) => {
    const operation = operations[entry >>> 1]!;
    return (entry & 1) === 0 ? operation.invokeMs : operation.returnMs;
  };
  const entries = Array.from({ length: operations.length * 2 }, (_, entry) => entry);
  return entries.sort((left, right) => {
    const leftTime = timeOf(left);
    const rightTime = timeOf(right);
    if (leftTime !== rightTime) return leftTime < rightTime ? -1 : 1;
    if ((left & 1) !== (right & 1)) return (left & 1) - (right & 1);
    return left - right;
  });
}
