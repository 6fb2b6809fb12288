/**
 * Pessimistic-lock waiters (TiKV's `WaiterManager`). A PessimisticLock that meets another transaction's
 * lock waits here until that lock is released (`released`, after a commit, rollback or resolve applied),
 * its timeout passes, the deadlock detector names it the victim of a cycle, or its caller gives up.
 *
 * Detection: unless the lock is the transaction's first (a transaction holding no lock cannot be part of
 * a cycle), the waiter's edge startTs → lockTs is sent to the detector at once and again every
 * `detectRefreshIntervalMs` while it waits. The refresh keeps the edge alive in the detector (whose edges
 * expire, so that edges of lost clean-ups do not linger), brings the edge to a new detector after a
 * leadership change (which starts empty), and retries a detect that found the detector unavailable. When
 * a waiter ends, for any reason, its edge is cleaned up on the detector if it was ever sent.
 *
 * Wake-up policy, as TiKV's: a released lock wakes its oldest waiter (smallest start ts) at once and the
 * others `wakeUpDelayMs` later. Only one of them can take the lock; the oldest gets the head start, since
 * aborting an old transaction wastes the most work and letting the youngest win repeatedly could starve
 * it. The others still wake (to find the new lock and wait on it, or to find the key free if the oldest
 * no longer wants it), so no waiter depends on another one retrying.
 *
 * No lost wake-up: `wait` registers the waiter before it returns, so the scheduler calls it before it
 * releases the latches of the command that found the lock, and calls `released` after the releasing
 * command applied and before it releases its own latches; the latches order the two.
 *
 * Pure apart from the injected clock and timers: no I/O, and the only background work, each waiter's
 * detect, is owned by a `TaskScope` that `close` awaits.
 */
import { compareBytes } from "#codec";
import type { Logger } from "#observability";
import type { deadlock } from "#proto";
import { type Clock, TaskScope, type TimerHandle, type Timers, untilAborted } from "#runtime";
import type { DeadlockDetection, DetectOutcome } from "../deadlock/detector-client.ts";
import type { WaitForEdge } from "../deadlock/wait-for-graph.ts";

export interface LockWaitRequest {
  /** Start timestamp of the waiting transaction. */
  readonly startTs: bigint;
  /** The raw user key the waiter wants to lock. */
  readonly key: Uint8Array;
  /** `keyHash(key)` (key-hash.ts). */
  readonly keyHash: bigint;
  /** Start timestamp of the transaction holding the lock. */
  readonly lockTs: bigint;
  /** How long to wait at most; 0 ends at once with "timeout". */
  readonly timeoutMs: number;
  /** The transaction holds no other lock: it cannot be part of a deadlock, so detection is skipped. */
  readonly isFirstLock: boolean;
  /** Aborting it ends the wait with "cancelled" (the client went away). */
  readonly signal?: AbortSignal;
}

export type WaitOutcome =
  /** The lock was released: the caller tries the lock again. `commitTs` is set when its holder committed. */
  | { readonly kind: "woken"; readonly commitTs: bigint | undefined }
  | { readonly kind: "timeout" }
  /** Waiting would close a cycle: the caller answers KeyError.deadlock. */
  | {
      readonly kind: "deadlock";
      readonly lockTs: bigint;
      readonly lockKey: Uint8Array;
      readonly deadlockKeyHash: bigint;
      /** The whole cycle, ending with this waiter's own edge, as TiKV reports it. */
      readonly waitChain: readonly deadlock.WaitForEntry[];
    }
  | { readonly kind: "cancelled" }
  /** The store already has `maxWaiters` waiters: the caller answers ServerIsBusy. */
  | { readonly kind: "too-many-waiters"; readonly maxWaiters: number };

export interface ReleasedLock {
  readonly key: Uint8Array;
  readonly keyHash: bigint;
  /** Start timestamp of the transaction whose lock is gone. */
  readonly startTs: bigint;
  /** Set when the lock was committed rather than rolled back. */
  readonly commitTs?: bigint;
}

/** Hooks for metrics (Prometheus counters and histograms); must not throw. */
export interface LockWaitObserver {
  /** Every `wait` ends here exactly once, including those refused at once. */
  onWaitEnded(outcome: WaitOutcome, durationMs: number): void;
  onDeadlock(): void;
}

export interface LockWaitManagerOptions {
  readonly detection: DeadlockDetection;
  readonly clock: Clock;
  readonly timers: Timers;
  readonly logger: Logger;
  /** Waiters on the store at most [16384]. */
  readonly maxWaiters?: number;
  /** Delay before a released lock's waiters other than the oldest wake [20 ms, TiKV's wake-up-delay-duration]. */
  readonly wakeUpDelayMs?: number;
  /** How often a waiter sends its edge to the detector again [1 s]. */
  readonly detectRefreshIntervalMs?: number;
  readonly observer?: LockWaitObserver;
}

export const DEFAULT_MAX_LOCK_WAITERS = 16_384;
export const DEFAULT_WAKE_UP_DELAY_MS = 20;
/** A third of the detector's edge TTL (wait-for-graph.ts), so two lost refreshes do not expire an edge. */
export const DEFAULT_DETECT_REFRESH_INTERVAL_MS = 1_000;

interface Waiter {
  readonly request: LockWaitRequest;
  readonly startedAtMs: number;
  readonly resolve: (outcome: WaitOutcome) => void;
  /** Aborted when the waiter ends, which stops its detect task. */
  readonly ended: AbortController;
  readonly onAbort: () => void;
  timeout: TimerHandle | undefined;
  refresh: TimerHandle | undefined;
  /** Set once a release scheduled this waiter's delayed wake-up. */
  wakeUp: TimerHandle | undefined;
  /** An edge was sent to the detector, so it must be cleaned up. */
  detected: boolean;
}

export class LockWaitManager {
  /** Waiters by the hash of the key they wait on. */
  private readonly waiters = new Map<bigint, Set<Waiter>>();
  private count = 0;
  private closed = false;
  private readonly tasks: TaskScope;
  private readonly maxWaiters: number;
  private readonly wakeUpDelayMs: number;
  private readonly refreshIntervalMs: number;

  constructor(private readonly options: LockWaitManagerOptions) {
    this.maxWaiters = options.maxWaiters ?? DEFAULT_MAX_LOCK_WAITERS;
    this.wakeUpDelayMs = options.wakeUpDelayMs ?? DEFAULT_WAKE_UP_DELAY_MS;
    this.refreshIntervalMs = options.detectRefreshIntervalMs ?? DEFAULT_DETECT_REFRESH_INTERVAL_MS;
    if (!(Number.isSafeInteger(this.maxWaiters) && this.maxWaiters > 0))
      throw new RangeError(`maxWaiters must be a positive integer, got ${this.maxWaiters}`);
    if (!(this.wakeUpDelayMs >= 0 && this.refreshIntervalMs > 0))
      throw new RangeError("wakeUpDelayMs must be at least 0 and detectRefreshIntervalMs above 0");
    this.tasks = new TaskScope({
      name: "lock wait manager",
      // A waiter has at most one detect in flight, and the task ends with its waiter.
      maxTasks: this.maxWaiters,
      onError: (error, task) => options.logger.error({ err: error, task }, "lock wait task failed"),
    });
  }

  /** Waiters now waiting. */
  get size(): number {
    return this.count;
  }

  /** Registers the waiter before returning; the promise never rejects. */
  wait(request: LockWaitRequest): Promise<WaitOutcome> {
    if (!(request.timeoutMs >= 0 && Number.isFinite(request.timeoutMs)))
      throw new RangeError(`lock wait timeout must be a finite number of ms >= 0, got ${request.timeoutMs}`);
    const refused = this.refusal(request);
    if (refused !== undefined) {
      this.options.observer?.onWaitEnded(refused, 0);
      return Promise.resolve(refused);
    }
    return new Promise((resolve) => this.register(request, resolve));
  }

  /** Wakes the waiters of each lock (key and holder start ts) that is gone. */
  released(locks: readonly ReleasedLock[]): void {
    for (const lock of locks) {
      const waiting = [...(this.waiters.get(lock.keyHash) ?? [])].filter(
        (waiter) =>
          waiter.wakeUp === undefined &&
          waiter.request.lockTs === lock.startTs &&
          compareBytes(waiter.request.key, lock.key) === 0,
      );
      if (waiting.length === 0) continue;
      waiting.sort((a, b) => (a.request.startTs < b.request.startTs ? -1 : 1));
      const woken: WaitOutcome = { kind: "woken", commitTs: lock.commitTs };
      this.end(waiting[0]!, woken);
      for (const waiter of waiting.slice(1)) {
        waiter.wakeUp = this.options.timers.setTimeout(() => this.end(waiter, woken), this.wakeUpDelayMs);
      }
    }
  }

  /** Ends every waiter with "cancelled" and waits for their detect tasks. Later waits end at once. */
  async close(): Promise<void> {
    this.closed = true;
    for (const waiting of [...this.waiters.values()]) {
      for (const waiter of waiting) this.end(waiter, { kind: "cancelled" });
    }
    await this.tasks.close();
  }

  private refusal(request: LockWaitRequest): WaitOutcome | undefined {
    if (this.closed || request.signal?.aborted) return { kind: "cancelled" };
    if (request.timeoutMs === 0) return { kind: "timeout" };
    if (this.count >= this.maxWaiters) return { kind: "too-many-waiters", maxWaiters: this.maxWaiters };
    return undefined;
  }

  private register(request: LockWaitRequest, resolve: (outcome: WaitOutcome) => void): void {
    const waiter: Waiter = {
      request,
      startedAtMs: this.options.clock.monotonicMs(),
      resolve,
      ended: new AbortController(),
      onAbort: () => this.end(waiter, { kind: "cancelled" }),
      timeout: undefined,
      refresh: undefined,
      wakeUp: undefined,
      detected: false,
    };
    let waiting = this.waiters.get(request.keyHash);
    if (waiting === undefined) {
      waiting = new Set();
      this.waiters.set(request.keyHash, waiting);
    }
    waiting.add(waiter);
    this.count++;
    waiter.timeout = this.options.timers.setTimeout(
      () => this.end(waiter, { kind: "timeout" }),
      request.timeoutMs,
    );
    request.signal?.addEventListener("abort", waiter.onAbort, { once: true });
    if (!request.isFirstLock) this.detect(waiter);
  }

  private detect(waiter: Waiter): void {
    waiter.detected = true;
    const edge = edgeOf(waiter.request);
    const started = this.tasks.spawn("deadlock detect", async () => {
      let outcome: DetectOutcome;
      try {
        outcome = await untilAborted(this.options.detection.detect(edge), waiter.ended.signal);
      } catch (error) {
        // The waiter ended first; its clean-up is already on its way to the detector.
        if (waiter.ended.signal.aborted) return;
        throw error;
      }
      this.onDetected(waiter, outcome);
    });
    // Refused only when closing (which ends the waiter) or full; a full scope is retried at the next refresh.
    if (!started) this.scheduleRefresh(waiter);
  }

  private onDetected(waiter: Waiter, outcome: DetectOutcome): void {
    if (outcome.kind !== "deadlock") {
      this.scheduleRefresh(waiter);
      return;
    }
    const { request } = waiter;
    this.options.observer?.onDeadlock();
    const ownEntry: deadlock.WaitForEntry = {
      ...edgeOf(request),
      waitTimeMs: BigInt(Math.floor(this.options.clock.monotonicMs() - waiter.startedAtMs)),
    };
    this.end(waiter, {
      kind: "deadlock",
      lockTs: request.lockTs,
      lockKey: request.key,
      deadlockKeyHash: outcome.deadlockKeyHash,
      waitChain: [...outcome.waitChain, ownEntry],
    });
  }

  private scheduleRefresh(waiter: Waiter): void {
    if (waiter.ended.signal.aborted) return;
    waiter.refresh = this.options.timers.setTimeout(() => {
      waiter.refresh = undefined;
      this.detect(waiter);
    }, this.refreshIntervalMs);
  }

  /** Ends a waiter once; later calls (a timeout racing a wake-up) do nothing. */
  private end(waiter: Waiter, outcome: WaitOutcome): void {
    if (waiter.ended.signal.aborted) return;
    waiter.ended.abort();
    waiter.timeout?.cancel();
    waiter.refresh?.cancel();
    waiter.wakeUp?.cancel();
    waiter.request.signal?.removeEventListener("abort", waiter.onAbort);
    const waiting = this.waiters.get(waiter.request.keyHash)!;
    waiting.delete(waiter);
    if (waiting.size === 0) this.waiters.delete(waiter.request.keyHash);
    this.count--;
    if (waiter.detected) this.options.detection.cleanUpWaitFor(edgeOf(waiter.request));
    this.options.observer?.onWaitEnded(outcome, this.options.clock.monotonicMs() - waiter.startedAtMs);
    waiter.resolve(outcome);
  }
}

function edgeOf(request: LockWaitRequest): WaitForEdge {
  return { txn: request.startTs, waitForTxn: request.lockTs, keyHash: request.keyHash, key: request.key };
}
