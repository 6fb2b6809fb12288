// Checks a set workload: unique inserts (add) followed by a final read of the whole set (read-all).
import type { AddOperation, Operation, ReadAllOperation } from "../history/operation.ts";

export interface SetReport {
  /** True when a final read exists, nothing acknowledged is lost and nothing appeared from nowhere. */
  readonly ok: boolean;
  readonly verdict: "valid" | "invalid" | "unknown (no successful final read)";
  readonly attempted: number;
  readonly acknowledged: number;
  readonly finalReadSize: number;
  /** Inserts acknowledged before the final read began but absent from it. */
  readonly lost: readonly string[];
  /** Elements the final read returned that no insert invoked before that read finished could have written. */
  readonly phantoms: readonly string[];
  /** Inserts that definitely failed yet are present. */
  readonly failedButPresent: readonly string[];
  /** Elements the final read returned more than once. */
  readonly duplicates: readonly string[];
  /** Unknown inserts, and inserts concurrent with the final read, may go either way; they are only counted. */
  readonly indeterminatePresent: number;
  readonly indeterminateAbsent: number;
}

export class DuplicateInsertError extends Error {
  constructor(readonly element: string) {
    super(
      `element ${JSON.stringify(element)} is inserted more than once; set workloads insert unique elements`,
    );
    this.name = "DuplicateInsertError";
  }
}

/** Uses the ok read-all that completed last as the final read; `key`, when given, selects one set. */
export function checkSet(history: readonly Operation[], key?: string): SetReport {
  const inSet = (operation: Operation) => operation.key === key;
  const adds = history.filter(
    (operation): operation is AddOperation => operation.op === "add" && inSet(operation),
  );
  const finalRead = lastSuccessfulReadAll(history.filter(inSet));
  const attemptsByElement = indexAdds(adds);
  const acknowledged = adds.filter((add) => add.outcome === "ok").length;
  if (finalRead === undefined) {
    return emptyReport(adds.length, acknowledged);
  }
  const present = finalRead.result!;
  const classified = classify(attemptsByElement, finalRead, present);
  const ok =
    classified.lost.length === 0 &&
    classified.phantoms.length === 0 &&
    classified.failedButPresent.length === 0 &&
    classified.duplicates.length === 0;
  return {
    ok,
    verdict: ok ? "valid" : "invalid",
    attempted: adds.length,
    acknowledged,
    finalReadSize: present.length,
    ...classified,
  };
}

function lastSuccessfulReadAll(history: readonly Operation[]): ReadAllOperation | undefined {
  let last: ReadAllOperation | undefined;
  for (const operation of history) {
    if (operation.op !== "read-all" || operation.outcome !== "ok") continue;
    if (last === undefined || operation.completeMs! > last.completeMs!) last = operation;
  }
  return last;
}

function indexAdds(adds: readonly AddOperation[]): Map<string, AddOperation> {
  const byElement = new Map<string, AddOperation>();
  for (const add of adds) {
    if (byElement.has(add.args.element)) throw new DuplicateInsertError(add.args.element);
    byElement.set(add.args.element, add);
  }
  return byElement;
}

type Classification = Pick<
  SetReport,
  "lost" | "phantoms" | "failedButPresent" | "duplicates" | "indeterminatePresent" | "indeterminateAbsent"
>;

function classify(
  attempts: ReadonlyMap<string, AddOperation>,
  finalRead: ReadAllOperation,
  present: readonly string[],
): Classification {
  const presentSet = new Set<string>();
  const duplicates = new Set<string>();
  for (const element of present) {
    if (presentSet.has(element)) duplicates.add(element);
    presentSet.add(element);
  }
  const phantoms: string[] = [];
  const failedButPresent: string[] = [];
  for (const element of presentSet) {
    const add = attempts.get(element);
    // An insert invoked after the read completed cannot be what the read saw.
    if (add === undefined || add.invokeMs > finalRead.completeMs!) phantoms.push(element);
    else if (add.outcome === "fail") failedButPresent.push(element);
  }
  const lost: string[] = [];
  let indeterminatePresent = 0;
  let indeterminateAbsent = 0;
  for (const [element, add] of attempts) {
    if (add.outcome === "fail" || add.invokeMs > finalRead.completeMs!) continue;
    const mustBePresent = add.outcome === "ok" && add.completeMs! < finalRead.invokeMs;
    if (mustBePresent && !presentSet.has(element)) lost.push(element);
    else if (!mustBePresent && presentSet.has(element)) indeterminatePresent++;
    else if (!mustBePresent) indeterminateAbsent++;
  }
  return {
    lost,
    phantoms,
    failedButPresent,
    duplicates: [...duplicates],
    indeterminatePresent,
    indeterminateAbsent,
  };
}

function emptyReport(attempted: number, acknowledged: number): SetReport {
  return {
    ok: false,
    verdict: "unknown (no successful final read)",
    attempted,
    acknowledged,
    finalReadSize: 0,
    lost: [],
    phantoms: [],
    failedButPresent: [],
    duplicates: [],
    indeterminatePresent: 0,
    indeterminateAbsent: 0,
  };
}
