// Builds register histories that are linearizable by construction: every operation gets a linearization
// point inside its window (or, for an unknown outcome, anywhere after its invoke, or none at all), a
// sequential register applied in point order supplies the results.
import type {
  CasInvocation,
  Operation,
  ReadInvocation,
  RegisterOperation,
  RegisterValue,
  WriteInvocation,
} from "../history/operation.ts";

export interface RandomHistoryOptions {
  readonly seed: number;
  readonly clients: number;
  readonly operationsPerClient: number;
  readonly keys: number;
  /** Probability that an operation's outcome is unknown. */
  readonly unknownRate: number;
}

export const NEVER_WRITTEN = "never-written";

type PlannedOperation = (ReadInvocation | WriteInvocation | CasInvocation) & {
  readonly invokeMs: number;
  readonly completeMs: number;
};

interface Planned {
  readonly operation: PlannedOperation;
  readonly pointMs: number | undefined;
  readonly unknown: boolean;
}

export function randomLinearizableHistory(options: RandomHistoryOptions): RegisterOperation[] {
  const random = mulberry32(options.seed);
  const planned: Planned[] = [];
  const writtenByKey = new Map<string, string[]>();
  let valueCounter = 0;
  for (let client = 0; client < options.clients; client++) {
    let nowMs = 0;
    for (let count = 0; count < options.operationsPerClient; count++) {
      const invokeMs = nowMs + Math.floor(random() * 4);
      const completeMs = invokeMs + Math.floor(random() * 20);
      const key = `k${Math.floor(random() * options.keys)}`;
      const written = writtenByKey.get(key) ?? [];
      writtenByKey.set(key, written);
      const roll = random();
      const base = { client, key, invokeMs, completeMs };
      let operation: PlannedOperation;
      if (roll < 0.4) {
        operation = { ...base, op: "read" };
      } else if (roll < 0.75) {
        const value = `${key}-v${valueCounter++}`;
        written.push(value);
        operation = { ...base, op: "write", args: { value } };
      } else {
        const expected = written.length === 0 || random() < 0.2 ? null : written[written.length - 1]!;
        const value = `${key}-v${valueCounter++}`;
        written.push(value);
        operation = { ...base, op: "cas", args: { expected, new: value } };
      }
      const unknown = random() < options.unknownRate;
      // An unknown operation may take effect well after the client gave up on it, or never.
      const pointMs = unknown
        ? random() < 0.5
          ? invokeMs + random() * 60
          : undefined
        : invokeMs + random() * (completeMs - invokeMs);
      planned.push({ operation, pointMs, unknown });
      nowMs = completeMs;
    }
  }
  return applyInPointOrder(planned);
}

function applyInPointOrder(planned: readonly Planned[]): RegisterOperation[] {
  const values = new Map<string, RegisterValue>();
  const results = new Map<Planned, Pick<RegisterOperation, "outcome"> & { result?: RegisterValue }>();
  const applied = planned.filter((entry) => entry.pointMs !== undefined);
  applied.sort((left, right) => left.pointMs! - right.pointMs!);
  for (const entry of applied) {
    const { operation } = entry;
    const current = values.get(operation.key) ?? null;
    if (operation.op === "read") {
      results.set(entry, { outcome: "ok", result: current });
    } else if (operation.op === "write") {
      values.set(operation.key, operation.args.value);
      results.set(entry, { outcome: "ok" });
    } else if (operation.args.expected === current) {
      values.set(operation.key, operation.args.new);
      results.set(entry, { outcome: "ok" });
    } else {
      results.set(entry, { outcome: "fail" });
    }
  }
  return planned.map((entry) => {
    if (entry.unknown) {
      return { ...entry.operation, completeMs: undefined, outcome: "unknown" } as RegisterOperation;
    }
    return { ...entry.operation, ...results.get(entry)! } as RegisterOperation;
  });
}

/** The same history with one ok read (chosen by `choice`) answering a value no one ever wrote. */
export function withCorruptedRead(history: readonly Operation[], choice: number): Operation[] | undefined {
  const reads = history.flatMap((operation, index) =>
    operation.op === "read" && operation.outcome === "ok" ? [index] : [],
  );
  if (reads.length === 0) return undefined;
  const target = reads[choice % reads.length]!;
  return history.map((operation, index) =>
    index === target ? ({ ...operation, result: NEVER_WRITTEN } as Operation) : operation,
  );
}

/** A small seeded PRNG so a failing property run replays from its seed. */
function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let mixed = Math.imul(state ^ (state >>> 15), 1 | state);
    mixed = (mixed + Math.imul(mixed ^ (mixed >>> 7), 61 | mixed)) ^ mixed;
    return ((mixed ^ (mixed >>> 14)) >>> 0) / 4294967296;
  };
}
