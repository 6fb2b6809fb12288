/**
 * The discrete-event core of a simulation. Virtual time moves only when a run method takes the next event
 * off the queue, so a test of a minute of cluster time finishes in milliseconds and every run with the
 * same seed performs the same callbacks in the same order. Nothing here reads the real clock or arms a
 * real timer.
 */
import { InvariantError } from "#runtime";
import { EventQueue, type QueuedEvent } from "./event-queue.ts";

export interface SchedulerOptions {
  /** Virtual time at which the simulation starts [0]. */
  readonly startMs?: number;
  /** Bound on events waiting in the queue; more means a runaway producer [1_000_000]. */
  readonly maxPendingEvents?: number;
  /** Events a run method may execute when the caller gives no limit [1_000_000]. */
  readonly defaultMaxEvents?: number;
}

export interface ScheduledEventHandle {
  readonly atMs: number;
  /** Idempotent; cancelling an event that already ran does nothing. */
  cancel(): void;
}

const DEFAULT_MAX_PENDING_EVENTS = 1_000_000;
const DEFAULT_MAX_EVENTS = 1_000_000;
// Below this many cancelled events a rebuild costs more than the dead entries it removes.
const MIN_CANCELLED_BEFORE_COMPACTION = 1024;

/** A run executed its event limit without finishing: usually a livelock (events that reschedule forever). */
export class EventLimitExceededError extends Error {
  constructor(
    readonly maxEvents: number,
    readonly nowMs: number,
    readonly pendingCount: number,
    readonly lastEventLabel: string,
  ) {
    super(
      `scheduler ran its limit of ${maxEvents} events without finishing (virtual time ${nowMs} ms, ` +
        `${pendingCount} events still pending, last event "${lastEventLabel}"); ` +
        "a livelock, or raise maxEvents if the workload really is this large",
    );
    this.name = "EventLimitExceededError";
  }
}

export class PendingEventLimitError extends Error {
  constructor(
    readonly maxPendingEvents: number,
    readonly label: string,
  ) {
    super(`scheduler queue is full (${maxPendingEvents} pending events) while scheduling "${label}"`);
    this.name = "PendingEventLimitError";
  }
}

export class Scheduler {
  private readonly queue = new EventQueue();
  private readonly maxPendingEvents: number;
  private readonly defaultMaxEvents: number;
  private currentMs: number;
  private nextSequence = 0;
  private livePending = 0;
  private cancelledInQueue = 0;
  private executed = 0;
  private lastLabel = "(none)";
  private running = false;

  constructor(options: SchedulerOptions = {}) {
    this.currentMs = options.startMs ?? 0;
    this.maxPendingEvents = options.maxPendingEvents ?? DEFAULT_MAX_PENDING_EVENTS;
    this.defaultMaxEvents = options.defaultMaxEvents ?? DEFAULT_MAX_EVENTS;
    assertFiniteTime(this.currentMs, "startMs");
  }

  /** Current virtual time in milliseconds. */
  get nowMs(): number {
    return this.currentMs;
  }

  /** Events scheduled and neither run nor cancelled. */
  get pendingCount(): number {
    return this.livePending;
  }

  /** Events run since the scheduler was created. */
  get executedCount(): number {
    return this.executed;
  }

  /** Runs `callback` `delayMs` after the current virtual time; `label` names it in errors and traces. */
  schedule(delayMs: number, callback: () => void, label = "event"): ScheduledEventHandle {
    assertDuration(delayMs, `schedule "${label}" delayMs`);
    return this.scheduleAt(this.currentMs + delayMs, callback, label);
  }

  /** Runs `callback` at absolute virtual time `atMs`, which must not be in the past. */
  scheduleAt(atMs: number, callback: () => void, label = "event"): ScheduledEventHandle {
    assertFiniteTime(atMs, `scheduleAt "${label}"`);
    if (atMs < this.currentMs) {
      throw new RangeError(
        `scheduleAt "${label}": ${atMs} ms is before the current time ${this.currentMs} ms`,
      );
    }
    if (this.livePending >= this.maxPendingEvents)
      throw new PendingEventLimitError(this.maxPendingEvents, label);
    const event: QueuedEvent = { atMs, sequence: this.nextSequence++, label, callback, finished: false };
    this.queue.push(event);
    this.livePending++;
    return { atMs, cancel: () => this.cancel(event) };
  }

  /** Virtual time of the next pending event, or undefined when idle. */
  nextEventAtMs(): number | undefined {
    return this.peekLive()?.atMs;
  }

  /** Runs the next event (advancing time to it); false when nothing is pending. */
  step(): boolean {
    return this.guardRun(() => this.runNext());
  }

  /** Runs events until none are pending; returns how many ran. */
  runUntilIdle(maxEvents = this.defaultMaxEvents): number {
    return this.guardRun(() => {
      let count = 0;
      while (this.peekLive() !== undefined) {
        this.checkLimit(count, maxEvents);
        this.runNext();
        count++;
      }
      return count;
    });
  }

  /** Runs every event due within `durationMs`, then sets the time to exactly now + durationMs. */
  runFor(durationMs: number, maxEvents = this.defaultMaxEvents): number {
    assertDuration(durationMs, "runFor durationMs");
    const deadlineMs = this.currentMs + durationMs;
    return this.guardRun(() => {
      let count = 0;
      for (
        let next = this.peekLive();
        next !== undefined && next.atMs <= deadlineMs;
        next = this.peekLive()
      ) {
        this.checkLimit(count, maxEvents);
        this.runNext();
        count++;
      }
      this.currentMs = deadlineMs;
      return count;
    });
  }

  /**
   * Runs events until `predicate` holds (checked before the first event and after each one) or `maxMs` of
   * virtual time pass. Returns whether the predicate holds; on success time stays at the event that
   * satisfied it, on timeout it moves to the deadline.
   */
  runUntil(predicate: () => boolean, maxMs: number, maxEvents = this.defaultMaxEvents): boolean {
    assertDuration(maxMs, "runUntil maxMs");
    const deadlineMs = this.currentMs + maxMs;
    return this.guardRun(() => {
      for (let count = 0; !predicate(); count++) {
        const next = this.peekLive();
        if (next === undefined || next.atMs > deadlineMs) {
          this.currentMs = deadlineMs;
          return predicate();
        }
        this.checkLimit(count, maxEvents);
        this.runNext();
      }
      return true;
    });
  }

  private runNext(): boolean {
    const event = this.peekLive();
    if (event === undefined) return false;
    this.queue.pop();
    event.finished = true;
    this.livePending--;
    this.currentMs = event.atMs;
    this.lastLabel = event.label;
    this.executed++;
    event.callback();
    return true;
  }

  /** The earliest event that is still live, discarding cancelled ones on top of the heap. */
  private peekLive(): QueuedEvent | undefined {
    let top = this.queue.peek();
    while (top?.finished) {
      this.queue.pop();
      this.cancelledInQueue--;
      top = this.queue.peek();
    }
    return top;
  }

  private cancel(event: QueuedEvent): void {
    if (event.finished) return;
    event.finished = true;
    this.livePending--;
    this.cancelledInQueue++;
    if (
      this.cancelledInQueue >= MIN_CANCELLED_BEFORE_COMPACTION &&
      this.cancelledInQueue * 2 > this.queue.size
    ) {
      this.queue.removeFinished();
      this.cancelledInQueue = 0;
    }
  }

  private checkLimit(count: number, maxEvents: number): void {
    if (count >= maxEvents) {
      throw new EventLimitExceededError(maxEvents, this.currentMs, this.livePending, this.lastLabel);
    }
  }

  // A callback that drives the scheduler itself would interleave two run loops and break event order.
  private guardRun<T>(run: () => T): T {
    if (this.running) {
      throw new InvariantError("scheduler run methods must not be called from inside an event");
    }
    this.running = true;
    try {
      return run();
    } finally {
      this.running = false;
    }
  }
}

function assertFiniteTime(valueMs: number, what: string): void {
  if (!Number.isFinite(valueMs))
    throw new RangeError(`${what}: expected a finite time in ms, got ${valueMs}`);
}

function assertDuration(durationMs: number, what: string): void {
  if (!(durationMs >= 0) || !Number.isFinite(durationMs)) {
    throw new RangeError(`${what}: expected a finite duration >= 0 ms, got ${durationMs}`);
  }
}
