/**
 * One operation's retry pacing: each failure names its kind and cause, the backoffer sleeps per that
 * kind's schedule, and once the sleeps counted against the budget reach it the operation fails with
 * every cause (BackoffBudgetExceededError). Sleeps run on the injected timers so tests use virtual time.
 */
import { type Clock, type Random, sleep, type Timers } from "#runtime";
import { BackoffBudgetExceededError } from "./backoff-budget-exceeded-error.ts";
import type { BackoffKind } from "./backoff-kind.ts";
import { jitteredSleepMs } from "./jitter.ts";

/** Budgets per operation [TiKV client: reads 20 s, 2PC writes 40 s]. */
export const GET_BUDGET_MS = 20_000;
export const SCAN_BUDGET_MS = 20_000;
export const PREWRITE_BUDGET_MS = 40_000;
export const COMMIT_BUDGET_MS = 40_000;

export interface BackoffCause {
  readonly kind: string;
  readonly error: Error;
  /** The sleep this failure caused; 0 when it exhausted the budget instead. */
  readonly sleptMs: number;
  /** Clock.monotonicMs() when the failure was reported. */
  readonly atMs: number;
}

export interface BackofferOptions {
  readonly budgetMs: number;
  readonly clock: Clock;
  readonly timers: Timers;
  readonly random: Random;
  /** Aborting rejects the current and every later sleep with the signal's reason. */
  readonly signal?: AbortSignal;
  /** Called before each sleep, e.g. to count backoffs by kind in metrics. */
  readonly onSleep?: (kind: BackoffKind, sleepMs: number, cause: Error) => void;
}

/** Shared between a backoffer and its forks: one budget, one history. */
interface BackoffLedger {
  countedSleepMs: number;
  readonly sleptMsByKind: Map<string, number>;
  readonly causes: BackoffCause[];
}

interface KindProgress {
  attempt: number;
  lastSleepMs: number;
}

export class Backoffer {
  readonly budgetMs: number;
  readonly signal: AbortSignal | undefined;
  private readonly options: BackofferOptions;
  // Replaced only by fork(), which starts the child from a copy of its parent's ledger.
  private ledger: BackoffLedger = { countedSleepMs: 0, sleptMsByKind: new Map(), causes: [] };
  private readonly progress = new Map<string, KindProgress>();

  constructor(options: BackofferOptions) {
    if (!(options.budgetMs >= 0) || !Number.isFinite(options.budgetMs)) {
      throw new RangeError(`Backoffer budgetMs must be a finite number >= 0, got ${options.budgetMs}`);
    }
    this.options = options;
    this.budgetMs = options.budgetMs;
    this.signal = options.signal;
  }

  /**
   * Records `cause` and sleeps per `kind`'s schedule. Throws BackoffBudgetExceededError instead of
   * sleeping once the counted sleeps have reached the budget; rejects with the signal's reason on abort.
   * A counted sleep is shortened to what is left of the budget, so the budget is never overshot.
   */
  async backoff(kind: BackoffKind, cause: Error): Promise<void> {
    this.signal?.throwIfAborted();
    const atMs = this.options.clock.monotonicMs();
    const remainingMs = this.budgetMs - this.ledger.countedSleepMs;
    if (kind.countsAgainstBudget && remainingMs <= 0) {
      this.ledger.causes.push({ kind: kind.name, error: cause, sleptMs: 0, atMs });
      this.ledger.sleptMsByKind.set(kind.name, this.ledger.sleptMsByKind.get(kind.name) ?? 0);
      throw this.budgetExceeded();
    }
    const scheduledMs = this.nextSleepMs(kind);
    const sleepMs = kind.countsAgainstBudget ? Math.min(scheduledMs, remainingMs) : scheduledMs;
    this.ledger.causes.push({ kind: kind.name, error: cause, sleptMs: sleepMs, atMs });
    this.ledger.sleptMsByKind.set(kind.name, (this.ledger.sleptMsByKind.get(kind.name) ?? 0) + sleepMs);
    // Charged before sleeping, so the budget error of a call made during the sleep already counts it.
    if (kind.countsAgainstBudget) this.ledger.countedSleepMs += sleepMs;
    this.options.onSleep?.(kind, sleepMs, cause);
    await sleep(sleepMs, this.options.timers, this.signal);
  }

  /**
   * A backoffer for a sub-request (one region of a batch), as TiKV's client forks one: it starts where
   * this one stands (the sleeps so far count against its budget, the causes so far are in its error, its
   * per-kind progress continues) and from then on spends alone. Siblings running in parallel must not
   * charge each other's sleeps: a batch over 60 regions that each wait out a 1 s leader election would
   * otherwise give up after a fraction of that second. `signal` replaces this one's (e.g. a child of it).
   */
  fork(signal: AbortSignal | undefined = this.signal): Backoffer {
    const child = new Backoffer({ ...this.options, signal });
    child.ledger = {
      countedSleepMs: this.ledger.countedSleepMs,
      sleptMsByKind: new Map(this.ledger.sleptMsByKind),
      causes: [...this.ledger.causes],
    };
    for (const [name, progress] of this.progress) child.progress.set(name, { ...progress });
    return child;
  }

  /** Sleep counted against the budget so far, including what its parent had slept when it forked. */
  get countedSleepMs(): number {
    return this.ledger.countedSleepMs;
  }

  /** Every failure reported so far, in order, including its parent's up to the fork. */
  get causes(): readonly BackoffCause[] {
    return this.ledger.causes;
  }

  /** Attempts of `kind` taken by this backoffer (a fork starts from its parent's count). */
  attempts(kind: BackoffKind): number {
    return this.progress.get(kind.name)?.attempt ?? 0;
  }

  private nextSleepMs(kind: BackoffKind): number {
    const progress = this.progress.get(kind.name) ?? { attempt: 0, lastSleepMs: kind.baseMs };
    const sleepMs = jitteredSleepMs(kind.jitter, {
      attempt: progress.attempt,
      baseMs: kind.baseMs,
      capMs: kind.capMs,
      lastSleepMs: progress.lastSleepMs,
      random: this.options.random,
    });
    this.progress.set(kind.name, { attempt: progress.attempt + 1, lastSleepMs: sleepMs });
    return sleepMs;
  }

  private budgetExceeded(): BackoffBudgetExceededError {
    const ledger = this.ledger;
    return new BackoffBudgetExceededError(
      this.budgetMs,
      ledger.countedSleepMs,
      new Map(ledger.sleptMsByKind),
      [...ledger.causes],
    );
  }
}
