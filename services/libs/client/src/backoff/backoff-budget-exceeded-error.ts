import type { BackoffCause } from "./backoffer.ts";

/**
 * The operation kept failing until its backoff budget ran out. The message lists every failure in order
 * and the time slept per kind, because the last error alone rarely explains why an operation gave up
 * (a NotLeader storm followed by one timeout reads very differently from twenty timeouts).
 */
export class BackoffBudgetExceededError extends Error {
  constructor(
    readonly budgetMs: number,
    /** Sleep counted against the budget (serverBusy excluded). */
    readonly countedSleepMs: number,
    /** Every kind's total sleep, serverBusy included, in the order the kinds first occurred. */
    readonly sleptMsByKind: ReadonlyMap<string, number>,
    readonly causes: readonly BackoffCause[],
  ) {
    super(describe(budgetMs, countedSleepMs, sleptMsByKind, causes), { cause: causes.at(-1)?.error });
    this.name = "BackoffBudgetExceededError";
  }
}

function describe(
  budgetMs: number,
  countedSleepMs: number,
  sleptMsByKind: ReadonlyMap<string, number>,
  causes: readonly BackoffCause[],
): string {
  const perKind = [...sleptMsByKind].map(([kind, sleptMs]) => `${kind} ${sleptMs} ms`).join(", ");
  const causeLines = causes.map(
    (cause, index) => `  ${index + 1}. [${cause.kind}] ${cause.error.name}: ${cause.error.message}`,
  );
  return [
    `backoff budget of ${budgetMs} ms exceeded (${countedSleepMs} ms counted); slept per kind: ${perKind}`,
    `causes (${causes.length}):`,
    ...causeLines,
  ].join("\n");
}
