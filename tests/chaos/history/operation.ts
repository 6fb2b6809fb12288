// One client operation as the chaos workloads record it and the checkers read it.
// Times are milliseconds on the recorder's clock; only their order matters to the checkers.

/** A register's value; `null` means the key is absent (the initial value of every register). */
export type RegisterValue = string | null;

/**
 * ok: the operation took effect and `result` is what the server answered.
 * fail: the server definitely did not apply it (a definite rejection, or a cas whose expected value did not match).
 * unknown: we cannot tell (timeout, lost connection); it may take effect at any point after its invoke, or
 * never, so checkers ignore its completeMs.
 */
export type Outcome = "ok" | "fail" | "unknown";

export type OperationKind = "read" | "write" | "cas" | "add" | "read-all";

interface OperationTiming {
  readonly client: number;
  readonly invokeMs: number;
  /** Undefined only for an operation still running when the history was taken (its outcome is unknown). */
  readonly completeMs: number | undefined;
  readonly outcome: Outcome;
}

export interface ReadInvocation {
  readonly client: number;
  readonly op: "read";
  readonly key: string;
}

export interface WriteInvocation {
  readonly client: number;
  readonly op: "write";
  readonly key: string;
  readonly args: { readonly value: string };
}

export interface CasInvocation {
  readonly client: number;
  readonly op: "cas";
  readonly key: string;
  readonly args: { readonly expected: RegisterValue; readonly new: string };
}

export interface AddInvocation {
  readonly client: number;
  readonly op: "add";
  /** The set's name when a workload keeps several sets. */
  readonly key?: string;
  readonly args: { readonly element: string };
}

export interface ReadAllInvocation {
  readonly client: number;
  readonly op: "read-all";
  readonly key?: string;
}

export interface ReadOperation extends ReadInvocation, OperationTiming {
  /** Present when the outcome is ok. */
  readonly result?: RegisterValue;
}
export interface WriteOperation extends WriteInvocation, OperationTiming {}
export interface CasOperation extends CasInvocation, OperationTiming {}
export interface AddOperation extends AddInvocation, OperationTiming {}
export interface ReadAllOperation extends ReadAllInvocation, OperationTiming {
  /** Present when the outcome is ok. */
  readonly result?: readonly string[];
}

export type Invocation = ReadInvocation | WriteInvocation | CasInvocation | AddInvocation | ReadAllInvocation;
export type Operation = ReadOperation | WriteOperation | CasOperation | AddOperation | ReadAllOperation;
export type RegisterOperation = ReadOperation | WriteOperation | CasOperation;

export function isRegisterOperation(operation: Operation): operation is RegisterOperation {
  return operation.op === "read" || operation.op === "write" || operation.op === "cas";
}

/** A short human-readable form for verdicts and failure explanations. */
export function describeOperation(operation: Operation): string {
  const end = operation.outcome === "unknown" ? "∞" : operation.completeMs;
  const window = `[${operation.invokeMs}, ${end}]`;
  const head = `client ${operation.client} ${operation.outcome} ${window}`;
  switch (operation.op) {
    case "read":
      return `${head} read(${operation.key}) -> ${formatValue(operation.result)}`;
    case "write":
      return `${head} write(${operation.key}, ${formatValue(operation.args.value)})`;
    case "cas":
      return `${head} cas(${operation.key}, ${formatValue(operation.args.expected)} -> ${formatValue(operation.args.new)})`;
    case "add":
      return `${head} add(${operation.args.element})`;
    case "read-all":
      return `${head} read-all -> ${operation.result === undefined ? "?" : `${operation.result.length} elements`}`;
  }
}

export function formatValue(value: RegisterValue | undefined): string {
  if (value === undefined) return "?";
  if (value === null) return "absent";
  return JSON.stringify(value);
}
