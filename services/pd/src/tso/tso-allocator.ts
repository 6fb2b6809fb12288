/**
 * The timestamp oracle run by the pd leader.
 *
 * Safety rests on one persisted number, the window end: the leader never serves a physical time above
 * the window end it has already saved, and a new leader starts strictly above the saved window end. So
 * whatever an old leader served (even one that has not yet noticed it was deposed) is below what the new
 * leader serves. The window is extended ahead of time from the update timer, so requests normally never
 * wait for storage.
 *
 * Within the window, physical time follows the wall clock (every update tick) and also steps forward by
 * itself when half the logical range of the current millisecond is used, so a burst never exhausts it. If
 * the wall clock goes backwards, physical time simply stays where it is: timestamps never decrease.
 *
 * Extensions the update timer starts run in the allocator's task scope; `close` waits for them, so none
 * writes to storage after pd has closed it.
 */

import { LOGICAL_LIMIT } from "#codec";
import type { pdpb } from "#proto";
import { type Clock, TaskScope, type TimerHandle, type Timers } from "#runtime";
import {
  MalformedStoredValueError,
  type MetaStorage,
  NotLeaderError,
  TSO_WINDOW_KEY,
} from "../storage/index.ts";

/** The most timestamps one request may take: a whole millisecond minus the never-served logical 0. */
export const MAX_TSO_BATCH = LOGICAL_LIMIT - 1;
const HALF_LOGICAL = LOGICAL_LIMIT / 2;
/** A request waits for at most this many window extensions before giving up. */
const MAX_WINDOW_WAITS = 3;

export interface TsoAllocatorOptions {
  readonly storage: MetaStorage;
  readonly clock: Clock;
  readonly timers: Timers;
  /** How far ahead of the clock the persisted window reaches [3000]. */
  readonly windowMs: number;
  /** Period of the timer that moves physical time to the wall clock and extends the window [50]. */
  readonly updateIntervalMs: number;
  /** Told about window extensions that failed in the background (requests see their own failures). */
  readonly onBackgroundError: (error: Error) => void;
}

/** This member is not (or no longer) serving timestamps: it is not the leader or has not finished starting. */
export class TsoNotServingError extends Error {
  override readonly name = "TsoNotServingError";
  constructor() {
    super("timestamp oracle is not serving: this pd member is not the ready leader");
  }
}

export class TsoInvalidCountError extends Error {
  override readonly name = "TsoInvalidCountError";
  constructor(readonly count: number) {
    super(`timestamp count must be an integer in [1, ${MAX_TSO_BATCH}], got ${count}`);
  }
}

/** Requests outran the persisted window several times in a row: storage is too slow or failing. */
export class TsoWindowExhaustedError extends Error {
  override readonly name = "TsoWindowExhaustedError";
  constructor(readonly windowEndMs: number) {
    super(`timestamp window ending at ${windowEndMs} ms is exhausted and could not be extended`);
  }
}

export class TsoAllocator {
  private serving = false;
  /** Bumped on every start and stop, so a storage call that completes after a change is ignored. */
  private generation = 0;
  private physicalMs = 0;
  private logical = 0;
  /** Persisted upper bound on served physical time. */
  private windowEndMs = 0;
  private extension: Promise<void> | undefined;
  private timer: TimerHandle | undefined;
  private readonly scope: TaskScope;

  constructor(private readonly options: TsoAllocatorOptions) {
    if (!(options.windowMs > 0) || !(options.updateIntervalMs > 0)) {
      throw new RangeError(
        `TSO windowMs and updateIntervalMs must be positive, got ${options.windowMs} and ${options.updateIntervalMs}`,
      );
    }
    this.scope = new TaskScope({
      name: "tso allocator",
      onError: (error) => options.onBackgroundError(error),
    });
  }

  get isServing(): boolean {
    return this.serving;
  }

  /** The persisted window end, for status pages and tests. */
  get persistedWindowEndMs(): number {
    return this.windowEndMs;
  }

  /**
   * Called when this member becomes leader: loads the saved window, persists a new one strictly above it
   * (and above the wall clock), and only then starts serving.
   */
  async start(): Promise<void> {
    this.stop();
    const generation = this.generation;
    const savedEndMs = await loadWindowEnd(this.options.storage);
    this.assertGeneration(generation);
    const physicalMs = Math.max(this.options.clock.nowMs(), savedEndMs + 1);
    const windowEndMs = physicalMs + this.options.windowMs;
    await this.options.storage.save(TSO_WINDOW_KEY, encodeWindowEnd(windowEndMs));
    this.assertGeneration(generation);
    this.physicalMs = physicalMs;
    this.logical = 0;
    this.windowEndMs = windowEndMs;
    this.serving = true;
    this.timer = this.options.timers.setInterval(() => this.update(), this.options.updateIntervalMs);
  }

  /** Stops serving at once (leadership lost or shutdown); a later `start` reloads the saved window. */
  stop(): void {
    this.serving = false;
    this.generation++;
    this.timer?.cancel();
    this.timer = undefined;
    this.extension = undefined;
  }

  /** Stops for good and waits for window extensions still being written. */
  async close(): Promise<void> {
    this.stop();
    await this.scope.close();
  }

  /** Reserves `count` consecutive timestamps and returns the last one (the caller owns logical-count+1 .. logical). */
  async allocate(count: number): Promise<pdpb.Timestamp> {
    if (!Number.isInteger(count) || count < 1 || count > MAX_TSO_BATCH) throw new TsoInvalidCountError(count);
    for (let wait = 0; wait <= MAX_WINDOW_WAITS; wait++) {
      const timestamp = this.tryAllocate(count);
      if (timestamp !== undefined) return timestamp;
      await this.extendWindow(this.generation);
    }
    throw new TsoWindowExhaustedError(this.windowEndMs);
  }

  /** Serves from memory when the current millisecond and window allow it; undefined means wait for the window. */
  private tryAllocate(count: number): pdpb.Timestamp | undefined {
    if (!this.serving) throw new TsoNotServingError();
    if (this.logical >= HALF_LOGICAL || this.logical + count >= LOGICAL_LIMIT) {
      this.advancePhysical(Math.max(this.physicalMs + 1, this.options.clock.nowMs()));
    }
    if (this.logical + count >= LOGICAL_LIMIT) return undefined;
    this.logical += count;
    return { physical: BigInt(this.physicalMs), logical: BigInt(this.logical) };
  }

  /** Moves physical time towards `targetMs` but never past the persisted window nor backwards. */
  private advancePhysical(targetMs: number): void {
    const nextMs = Math.min(targetMs, this.windowEndMs);
    if (nextMs <= this.physicalMs) return;
    this.physicalMs = nextMs;
    this.logical = 0;
  }

  /** The update tick: follow the wall clock forward and extend the window well before it runs out. */
  private update(): void {
    if (!this.serving) return;
    const nowMs = this.options.clock.nowMs();
    this.advancePhysical(nowMs);
    const remainingMs = this.windowEndMs - Math.max(nowMs, this.physicalMs);
    if (remainingMs < this.options.windowMs / 2) {
      const generation = this.generation;
      this.scope.spawn("tso window extension", () => this.extendWindow(generation));
    }
  }

  /** Single-flight: concurrent callers share one save. Never persists a smaller window end than the current one. */
  private extendWindow(generation: number): Promise<void> {
    if (!this.serving || generation !== this.generation) return Promise.reject(new TsoNotServingError());
    if (this.extension !== undefined) return this.extension;
    const baseMs = Math.max(this.options.clock.nowMs(), this.physicalMs);
    const targetEndMs = Math.max(baseMs + this.options.windowMs, this.windowEndMs + 1);
    const extension = this.options.storage.save(TSO_WINDOW_KEY, encodeWindowEnd(targetEndMs)).then(
      () => {
        if (generation === this.generation && targetEndMs > this.windowEndMs) this.windowEndMs = targetEndMs;
      },
      (error: unknown) => {
        // A fenced write means another member leads now: stop at once rather than wait for the election event.
        if (error instanceof NotLeaderError && generation === this.generation) this.stop();
        throw error;
      },
    );
    this.extension = extension;
    const clear = (): void => {
      if (this.extension === extension) this.extension = undefined;
    };
    extension.then(clear, clear);
    return extension;
  }

  private assertGeneration(generation: number): void {
    if (generation !== this.generation) throw new TsoNotServingError();
  }
}

async function loadWindowEnd(storage: MetaStorage): Promise<number> {
  const saved = await storage.load(TSO_WINDOW_KEY);
  if (saved === undefined) return 0;
  const text = new TextDecoder().decode(saved);
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new MalformedStoredValueError(TSO_WINDOW_KEY, text, "a TSO window end in milliseconds");
  }
  return value;
}

function encodeWindowEnd(windowEndMs: number): Uint8Array {
  return new TextEncoder().encode(String(windowEndMs));
}
