/**
 * Runs the requests of one bidirectional stream one after another, so replies leave in request order
 * even when a request has to wait (for a TSO window extension or a metadata write). The bound stops one
 * client from queueing unlimited work on the server.
 */
export class SerialTaskQueue {
  private tail: Promise<void> = Promise.resolve();
  private pendingCount = 0;

  constructor(private readonly maxPending: number) {}

  get pending(): number {
    return this.pendingCount;
  }

  /** Queues `task` (which must not reject); returns false, without queueing, when the queue is full. */
  push(task: () => Promise<void>): boolean {
    if (this.pendingCount >= this.maxPending) return false;
    this.pendingCount++;
    this.tail = this.tail.then(task).finally(() => {
      this.pendingCount--;
    });
    return true;
  }

  /** Resolves once every task queued so far has finished. */
  whenIdle(): Promise<void> {
    return this.tail;
  }
}
