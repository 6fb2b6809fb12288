/**
 * `Clock` and `Timers` backed by a `Scheduler`, so code written against `#runtime` runs unchanged inside a
 * simulation: its timers become scheduler events and its notion of time is the scheduler's virtual time.
 */
import type { Clock, TimerHandle, Timers } from "#runtime";
import type { ScheduledEventHandle, Scheduler } from "./scheduler.ts";

export interface VirtualClockOptions {
  /**
   * Wall-clock reading at virtual time 0 [2024-01-01T00:00:00Z]. Fixed rather than read from the real
   * clock so that wall-clock values (TSO physical time, log timestamps) are identical on every replay.
   */
  readonly wallClockAtZeroMs?: number;
  /** Prefix for the scheduler labels of timer events, e.g. the node name ["timer"]. */
  readonly label?: string;
}

const DEFAULT_WALL_CLOCK_AT_ZERO_MS = Date.UTC(2024, 0, 1);

export class VirtualClock implements Clock, Timers {
  private readonly wallClockAtZeroMs: number;
  private readonly label: string;

  constructor(
    private readonly scheduler: Scheduler,
    options: VirtualClockOptions = {},
  ) {
    this.wallClockAtZeroMs = options.wallClockAtZeroMs ?? DEFAULT_WALL_CLOCK_AT_ZERO_MS;
    this.label = options.label ?? "timer";
  }

  nowMs(): number {
    return this.wallClockAtZeroMs + this.scheduler.nowMs;
  }

  monotonicMs(): number {
    return this.scheduler.nowMs;
  }

  setTimeout(callback: () => void, delayMs: number): TimerHandle {
    const event = this.scheduler.schedule(delayMs, callback, `${this.label}.timeout`);
    return { cancel: () => event.cancel() };
  }

  /** The next run is scheduled before the callback runs, so cancelling from inside the callback stops it. */
  setInterval(callback: () => void, intervalMs: number): TimerHandle {
    // A zero interval would fire forever without virtual time moving.
    if (!(intervalMs > 0) || !Number.isFinite(intervalMs)) {
      throw new RangeError(`setInterval: intervalMs must be a finite number > 0, got ${intervalMs}`);
    }
    const label = `${this.label}.interval`;
    let next: ScheduledEventHandle;
    const fire = (): void => {
      next = this.scheduler.schedule(intervalMs, fire, label);
      callback();
    };
    next = this.scheduler.schedule(intervalMs, fire, label);
    return { cancel: () => next.cancel() };
  }
}
