/**
 * The owner of background work. Every promise a component starts without its caller awaiting it (a split
 * check, a pd report, a snapshot being sent) is spawned in the component's scope, which can cancel it and
 * await it: `close()` aborts every task's signal and resolves only when all of them have settled, so
 * nothing a component started outlives the component.
 *
 * A task reports what it found by posting a message to its owner (a mailbox, a queue) rather than by
 * changing the owner's state after an `await`: the owner stays the only one to change its state. A task's
 * failure is never unhandled: it goes to the scope's `onError` (which logs and counts), except when it is
 * the cancellation the scope itself asked for.
 */

import { asError } from "./thrown-value-error.ts";

export interface TaskScopeOptions {
  /** Names the scope in errors and logs ("store 4", "pd worker"). */
  readonly name: string;
  /** A task failed (not by the scope's own cancellation). Must not throw. */
  readonly onError: (error: Error, task: string) => void;
  /** Tasks running at once at most; a spawn beyond it is refused (returns false). */
  readonly maxTasks?: number;
}

/** A task: runs until done or until `signal` aborts (then it should stop soon and may reject). */
export type Task = (signal: AbortSignal) => Promise<void>;

export class TaskScopeClosedError extends Error {
  override readonly name = "TaskScopeClosedError";
}

const DEFAULT_MAX_TASKS = 100_000;

export class TaskScope {
  private readonly running = new Set<Promise<void>>();
  private readonly abort = new AbortController();
  private failureCount = 0;
  private closing: Promise<void> | undefined;

  constructor(private readonly options: TaskScopeOptions) {}

  /** Tasks started and not yet settled. */
  get size(): number {
    return this.running.size;
  }

  /** Tasks that failed since the scope was made (cancellations excluded). */
  get failures(): number {
    return this.failureCount;
  }

  get isClosed(): boolean {
    return this.closing !== undefined;
  }

  /** Aborts when the scope closes: for work that is not a spawned task but must stop with the scope. */
  get signal(): AbortSignal {
    return this.abort.signal;
  }

  /**
   * Starts `task` now. Returns false, without starting it, when the scope is closed or full: a caller
   * whose work must not be dropped checks the answer (a full scope is a bound, like a full queue).
   */
  spawn(name: string, task: Task): boolean {
    if (this.closing !== undefined) return false;
    if (this.running.size >= (this.options.maxTasks ?? DEFAULT_MAX_TASKS)) return false;
    const settled: Promise<void> = this.run(name, task).finally(() => this.running.delete(settled));
    this.running.add(settled);
    return true;
  }

  /** Cancels every task and resolves once all have settled. Idempotent. */
  close(): Promise<void> {
    this.closing ??= this.closeOnce();
    return this.closing;
  }

  /** Waits for every task started so far (and those they start meanwhile) without cancelling them. */
  async drain(): Promise<void> {
    while (this.running.size > 0) await Promise.all([...this.running]);
  }

  private async closeOnce(): Promise<void> {
    this.abort.abort(new TaskScopeClosedError(`${this.options.name} is closing`));
    await this.drain();
  }

  private async run(name: string, task: Task): Promise<void> {
    try {
      await task(this.abort.signal);
    } catch (error) {
      if (this.abort.signal.aborted && isCancellation(error, this.abort.signal)) return;
      this.failureCount++;
      this.options.onError(asError(error), name);
    }
  }
}

function isCancellation(error: unknown, signal: AbortSignal): boolean {
  return (
    error === signal.reason ||
    error instanceof TaskScopeClosedError ||
    (error instanceof Error && error.name === "AbortError")
  );
}
