// Checks a register history for linearizability, key by key (a history is linearizable iff each key's
// sub-history is, so partitioning keeps every search small).
import {
  describeOperation,
  formatValue,
  isRegisterOperation,
  type Operation,
  type RegisterOperation,
  type RegisterValue,
} from "../history/operation.ts";
import { registerModel } from "./register-model.ts";
import { type SearchOperation, searchLinearization } from "./wgl-search.ts";

export interface LinearizabilityOptions {
  /** Search steps allowed per key before giving up with an "unknown" verdict for that key. */
  readonly maxStepsPerKey?: number;
}

export const DEFAULT_MAX_STEPS_PER_KEY = 2_000_000;

/** How many operations of the longest linearizable prefix an explanation quotes. */
const EXPLANATION_TAIL = 10;

export interface LinearizabilityFailure {
  readonly key: string;
  readonly explanation: string;
  /** The longest sequence of this key's operations the search could linearize, in order. */
  readonly longestPrefix: readonly RegisterOperation[];
  readonly valueAfterPrefix: RegisterValue;
  /** The operation that could not be placed after that prefix before its return. */
  readonly unplaceable: RegisterOperation;
}

export interface BudgetExceeded {
  readonly key: string;
  readonly operations: number;
  readonly steps: number;
}

export interface LinearizabilityReport {
  /** True only when every key was proven linearizable. */
  readonly ok: boolean;
  readonly verdict: "linearizable" | "not-linearizable" | "unknown (search budget exceeded)";
  readonly keysChecked: number;
  readonly operationsChecked: number;
  readonly failures: readonly LinearizabilityFailure[];
  readonly budgetExceeded: readonly BudgetExceeded[];
}

export class InvalidHistoryError extends Error {
  constructor(
    readonly operation: Operation,
    readonly reason: string,
  ) {
    super(`${reason}: ${describeOperation(operation)}`);
    this.name = "InvalidHistoryError";
  }
}

/** Checks the read/write/cas operations of `history`; set operations (add, read-all) are ignored. */
export function checkLinearizability(
  history: readonly Operation[],
  options: LinearizabilityOptions = {},
): LinearizabilityReport {
  const maxSteps = options.maxStepsPerKey ?? DEFAULT_MAX_STEPS_PER_KEY;
  const failures: LinearizabilityFailure[] = [];
  const budgetExceeded: BudgetExceeded[] = [];
  let operationsChecked = 0;
  const partitions = partitionByKey(history);
  for (const [key, operations] of partitions) {
    operationsChecked += operations.length;
    const result = searchLinearization(registerModel, operations, maxSteps);
    if (result.kind === "budget-exceeded") {
      budgetExceeded.push({ key, operations: operations.length, steps: result.steps });
    } else if (result.kind === "not-linearizable") {
      failures.push({
        key,
        explanation: explain(key, result.longestPrefix, result.stateAfterPrefix, result.unplaceable),
        longestPrefix: result.longestPrefix,
        valueAfterPrefix: result.stateAfterPrefix,
        unplaceable: result.unplaceable,
      });
    }
  }
  return {
    ok: failures.length === 0 && budgetExceeded.length === 0,
    verdict: verdictOf(failures.length, budgetExceeded.length),
    keysChecked: partitions.size,
    operationsChecked,
    failures,
    budgetExceeded,
  };
}

function verdictOf(failureCount: number, budgetExceededCount: number): LinearizabilityReport["verdict"] {
  if (failureCount > 0) return "not-linearizable";
  if (budgetExceededCount > 0) return "unknown (search budget exceeded)";
  return "linearizable";
}

/**
 * Failed operations did not happen and unknown reads returned nothing, so neither constrains the search;
 * unknown writes and cas may take effect any time after their invoke, so their return is Infinity.
 */
function partitionByKey(history: readonly Operation[]): Map<string, SearchOperation<RegisterOperation>[]> {
  const byKey = new Map<string, RegisterOperation[]>();
  for (const operation of history) {
    if (!isRegisterOperation(operation) || operation.outcome === "fail") continue;
    if (operation.outcome === "unknown" && operation.op === "read") continue;
    const partition = byKey.get(operation.key);
    if (partition === undefined) byKey.set(operation.key, [operation]);
    else partition.push(operation);
  }
  const partitions = new Map<string, SearchOperation<RegisterOperation>[]>();
  for (const [key, operations] of byKey) partitions.set(key, toSearchOperations(operations));
  return partitions;
}

interface ValueFacts {
  readonly writers: Map<RegisterValue, number>;
  /** Values an operation depended on: ok read results and the expected value of any cas. */
  readonly observed: Set<RegisterValue>;
  /** The earliest completion of an ok operation that could only succeed after the value was written. */
  readonly earliestObservationMs: Map<RegisterValue, number>;
}

function valueFacts(operations: readonly RegisterOperation[]): ValueFacts {
  const facts: ValueFacts = { writers: new Map(), observed: new Set(), earliestObservationMs: new Map() };
  const observe = (value: RegisterValue, operation: RegisterOperation) => {
    facts.observed.add(value);
    if (operation.outcome !== "ok") return;
    const earliest = facts.earliestObservationMs.get(value);
    if (earliest === undefined || operation.completeMs! < earliest) {
      facts.earliestObservationMs.set(value, operation.completeMs!);
    }
  };
  for (const operation of operations) {
    if (operation.op === "read") observe(operation.result!, operation);
    if (operation.op === "cas") observe(operation.args.expected, operation);
    const written = writtenValue(operation);
    if (written !== undefined) facts.writers.set(written, (facts.writers.get(written) ?? 0) + 1);
  }
  return facts;
}

function writtenValue(operation: RegisterOperation): string | undefined {
  if (operation.op === "write") return operation.args.value;
  if (operation.op === "cas") return operation.args.new;
  return undefined;
}

/**
 * Unknown writes and cas, each concurrent with everything after its invoke, are what makes the search
 * explode, so they are narrowed where the history allows it without changing the verdict:
 * - one whose value nobody read or expected is dropped: in any linearization that includes it, the next
 *   operation on the key cannot depend on that value, so it must overwrite it (or there is none);
 * - one whose value only it writes, and that an ok operation observed, must have taken effect before that
 *   operation completed, so it becomes required with that completion as its return.
 */
function toSearchOperations(operations: readonly RegisterOperation[]): SearchOperation<RegisterOperation>[] {
  const facts = valueFacts(operations);
  const result: SearchOperation<RegisterOperation>[] = [];
  for (const operation of operations) {
    const written = writtenValue(operation);
    if (operation.outcome !== "unknown" || written === undefined) {
      result.push(toSearchOperation(operation));
      continue;
    }
    const observedMs = facts.earliestObservationMs.get(written);
    if (observedMs !== undefined && facts.writers.get(written) === 1) {
      const returnMs = Math.max(observedMs, operation.invokeMs);
      result.push({ operation, invokeMs: operation.invokeMs, returnMs, optional: false });
    } else if (facts.observed.has(written)) {
      result.push(toSearchOperation(operation));
    }
  }
  return result;
}

function toSearchOperation(operation: RegisterOperation): SearchOperation<RegisterOperation> {
  if (operation.outcome === "unknown") {
    return { operation, invokeMs: operation.invokeMs, returnMs: Number.POSITIVE_INFINITY, optional: true };
  }
  if (operation.completeMs === undefined) {
    throw new InvalidHistoryError(operation, "an ok operation needs completeMs");
  }
  if (operation.completeMs < operation.invokeMs) {
    throw new InvalidHistoryError(operation, "completeMs is before invokeMs");
  }
  if (operation.op === "read" && operation.result === undefined) {
    throw new InvalidHistoryError(operation, "an ok read needs a result");
  }
  return { operation, invokeMs: operation.invokeMs, returnMs: operation.completeMs, optional: false };
}

function explain(
  key: string,
  prefix: readonly RegisterOperation[],
  valueAfterPrefix: RegisterValue,
  unplaceable: RegisterOperation,
): string {
  const shown = prefix.slice(-EXPLANATION_TAIL);
  const omitted = prefix.length - shown.length;
  const lines = [
    `key ${JSON.stringify(key)}: at most ${prefix.length} operations linearize; then no order can place`,
    `  ${describeOperation(unplaceable)}`,
    `  before it returned. Value after the longest linearizable prefix: ${formatValue(valueAfterPrefix)}.`,
    `  Longest linearizable prefix${omitted > 0 ? ` (last ${shown.length}, ${omitted} earlier omitted)` : ""}:`,
    ...shown.map((operation, index) => `    ${omitted + index + 1}. ${describeOperation(operation)}`),
  ];
  return lines.join("\n");
}
