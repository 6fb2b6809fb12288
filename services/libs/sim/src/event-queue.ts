/**
 * The scheduler's pending events: a binary min-heap ordered by (atMs, sequence). The sequence number
 * (insertion order) breaks ties so events due at the same virtual time run first-in first-out, which is
 * what makes a simulation replay identically from its seed.
 */

export interface QueuedEvent {
  readonly atMs: number;
  readonly sequence: number;
  readonly label: string;
  readonly callback: () => void;
  /**
   * Set when the event runs or is cancelled. A cancelled event stays in the heap and is discarded when it
   * reaches the top (lazy deletion), so cancelling costs O(1).
   */
  finished: boolean;
}

function runsBefore(left: QueuedEvent, right: QueuedEvent): boolean {
  return left.atMs < right.atMs || (left.atMs === right.atMs && left.sequence < right.sequence);
}

export class EventQueue {
  private readonly heap: QueuedEvent[] = [];

  get size(): number {
    return this.heap.length;
  }

  peek(): QueuedEvent | undefined {
    return this.heap[0];
  }

  push(event: QueuedEvent): void {
    this.heap.push(event);
    this.siftUp(this.heap.length - 1);
  }

  pop(): QueuedEvent | undefined {
    const heap = this.heap;
    const top = heap[0];
    const last = heap.pop();
    if (top !== undefined && heap.length > 0) {
      heap[0] = last!;
      this.siftDown(0);
    }
    return top;
  }

  /** Drops cancelled events in O(n); the owner calls it only when they make up most of the heap. */
  removeFinished(): void {
    const live = this.heap.filter((event) => !event.finished);
    this.heap.length = 0;
    for (const event of live) this.heap.push(event);
    for (let index = (this.heap.length >> 1) - 1; index >= 0; index--) this.siftDown(index);
  }

  private siftUp(index: number): void {
    const heap = this.heap;
    const moving = heap[index]!;
    while (index > 0) {
      const parentIndex = (index - 1) >> 1;
      const parent = heap[parentIndex]!;
      if (!runsBefore(moving, parent)) break;
      heap[index] = parent;
      index = parentIndex;
    }
    heap[index] = moving;
  }

  private siftDown(index: number): void {
    const heap = this.heap;
    const length = heap.length;
    const moving = heap[index]!;
    for (;;) {
      const leftIndex = 2 * index + 1;
      if (leftIndex >= length) break;
      const rightIndex = leftIndex + 1;
      const childIndex =
        rightIndex < length && runsBefore(heap[rightIndex]!, heap[leftIndex]!) ? rightIndex : leftIndex;
      const child = heap[childIndex]!;
      if (!runsBefore(child, moving)) break;
      heap[index] = child;
      index = childIndex;
    }
    heap[index] = moving;
  }
}
