/**
 * Failed operations counted by kind (the step that failed and the error class behind it), with the first
 * message of each kind kept as an example. Bugs are counted apart: every key is fresh, so no other
 * transaction can lock or conflict with it, and a key error, or a committed key that reads back wrong, is a
 * bug in the store.
 */
import { BackoffBudgetExceededError, RegionRequestError, UnknownOutcomeError } from "#client";
import { TxnKeyError, TxnStepError } from "./one-key-transaction.ts";

/** Longest example message kept per kind. */
const EXAMPLE_CHARS = 400;

/** A committed key read back missing or with another value. */
export class ReadBackError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ReadBackError";
  }
}

export interface ErrorKindCount {
  readonly kind: string;
  readonly count: number;
  readonly example: string;
  readonly bug: boolean;
}

export class ErrorTally {
  private readonly kinds = new Map<string, { count: number; example: string; bug: boolean }>();

  /** Whether `error` can only come from a bug when every key is fresh. */
  static isBug(error: unknown): boolean {
    return error instanceof TxnKeyError || error instanceof ReadBackError;
  }

  /** Counts `error`; returns true when it is the first of its kind. */
  add(error: unknown): boolean {
    const kind = errorKind(error);
    const known = this.kinds.get(kind);
    if (known !== undefined) {
      known.count++;
      return false;
    }
    const message = error instanceof Error ? error.message : String(error);
    this.kinds.set(kind, {
      count: 1,
      example: message.slice(0, EXAMPLE_CHARS),
      bug: ErrorTally.isBug(error),
    });
    return true;
  }

  get total(): number {
    let total = 0;
    for (const { count } of this.kinds.values()) total += count;
    return total;
  }

  get bugs(): number {
    let total = 0;
    for (const { count, bug } of this.kinds.values()) if (bug) total += count;
    return total;
  }

  entries(): ErrorKindCount[] {
    return [...this.kinds].map(([kind, entry]) => ({ kind, ...entry }));
  }
}

export function errorKind(error: unknown): string {
  if (error instanceof TxnKeyError) return `KEY ERROR on ${error.step}: ${error.kind}`;
  if (error instanceof ReadBackError) return "WRONG READ-BACK";
  if (error instanceof TxnStepError) return `${error.step}: ${causeKind(error.cause)}`;
  return causeKind(error);
}

function causeKind(error: unknown): string {
  if (error instanceof UnknownOutcomeError) return `unknown outcome (${causeKind(error.cause)})`;
  if (error instanceof BackoffBudgetExceededError) {
    const last = error.causes.at(-1);
    return `backoff budget exceeded (last: ${last === undefined ? "none" : `${last.kind} ${causeKind(last.error)}`})`;
  }
  if (error instanceof RegionRequestError) return `region error ${error.kind}`;
  if (error instanceof Error) return error.name;
  return typeof error;
}
