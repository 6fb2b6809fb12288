// Wraps each client call so its invoke time, complete time and outcome land in the history exactly once.
import type {
  AddInvocation,
  AddOperation,
  CasInvocation,
  CasOperation,
  Invocation,
  Operation,
  Outcome,
  ReadAllInvocation,
  ReadAllOperation,
  ReadInvocation,
  ReadOperation,
  RegisterValue,
  WriteInvocation,
  WriteOperation,
} from "./operation.ts";

/**
 * Decides what a thrown error means for the checker. Return "fail" only when the server definitely did
 * not apply the operation (e.g. a rejected precondition); a timeout or a lost connection must be
 * "unknown", because the request may have been applied before the reply was lost.
 */
export type ErrorClassifier = (error: unknown) => Extract<Outcome, "fail" | "unknown">;

export interface RecorderOptions {
  /** Injected so tests and simulations control time; the chaos runner passes a monotonic clock. */
  readonly nowMs: () => number;
  readonly classifyError: ErrorClassifier;
  /** Called with every completed operation, e.g. to count successes per second around faults. */
  readonly onComplete?: (operation: Operation) => void;
}

interface Completion {
  readonly outcome: Outcome;
  readonly result?: unknown;
}

export class HistoryRecorder {
  private readonly completed: Operation[] = [];
  private readonly inFlight = new Set<{ readonly invocation: Invocation; readonly invokeMs: number }>();

  constructor(private readonly options: RecorderOptions) {}

  read(invocation: ReadInvocation, run: () => Promise<RegisterValue>): Promise<ReadOperation> {
    return this.record(invocation, run, (result) => ({ outcome: "ok", result }));
  }

  write(invocation: WriteInvocation, run: () => Promise<unknown>): Promise<WriteOperation> {
    return this.record(invocation, run, () => ({ outcome: "ok" }));
  }

  /** `run` resolves to whether the swap happened; a mismatch is a definite "fail". */
  cas(invocation: CasInvocation, run: () => Promise<boolean>): Promise<CasOperation> {
    return this.record(invocation, run, (swapped) => ({ outcome: swapped ? "ok" : "fail" }));
  }

  add(invocation: AddInvocation, run: () => Promise<unknown>): Promise<AddOperation> {
    return this.record(invocation, run, () => ({ outcome: "ok" }));
  }

  readAll(invocation: ReadAllInvocation, run: () => Promise<readonly string[]>): Promise<ReadAllOperation> {
    return this.record(invocation, run, (result) => ({ outcome: "ok", result: [...result] }));
  }

  /**
   * Completed operations plus those still running, which count as unknown (the run may end while a
   * request hangs on a partitioned node), ordered by invoke time.
   */
  history(): Operation[] {
    const pending = [...this.inFlight].map(
      ({ invocation, invokeMs }) =>
        ({ ...invocation, invokeMs, completeMs: undefined, outcome: "unknown" }) as Operation,
    );
    return [...this.completed, ...pending].sort((left, right) => left.invokeMs - right.invokeMs);
  }

  private async record<Value, Recorded extends Operation>(
    invocation: Invocation,
    run: () => Promise<Value>,
    interpret: (value: Value) => Completion,
  ): Promise<Recorded> {
    const entry = { invocation, invokeMs: this.options.nowMs() };
    this.inFlight.add(entry);
    let completion: Completion;
    try {
      completion = interpret(await run());
    } catch (error) {
      completion = { outcome: this.options.classifyError(error) };
    }
    this.inFlight.delete(entry);
    // completeMs is kept even for unknown outcomes (the runner counts outcomes per second);
    // the checkers ignore it for them, since such an operation may still take effect later.
    const operation = {
      ...invocation,
      invokeMs: entry.invokeMs,
      completeMs: this.options.nowMs(),
      ...completion,
    };
    this.completed.push(operation as Operation);
    this.options.onComplete?.(operation as Operation);
    return operation as Recorded;
  }
}
