// Histories are stored as JSON lines (one operation per line) so a run that dies midway still leaves
// every line written so far readable, and so files can be inspected with grep/jq.
import { readFile, writeFile } from "node:fs/promises";
import type { Operation, OperationKind, Outcome } from "./operation.ts";

export class HistoryFormatError extends Error {
  constructor(
    readonly lineNumber: number,
    readonly reason: string,
  ) {
    super(`history line ${lineNumber}: ${reason}`);
    this.name = "HistoryFormatError";
  }
}

export function formatHistory(operations: readonly Operation[]): string {
  return operations.map((operation) => `${JSON.stringify(operation)}\n`).join("");
}

export function parseHistory(text: string): Operation[] {
  const operations: Operation[] = [];
  const lines = text.split("\n");
  for (let index = 0; index < lines.length; index++) {
    const line = lines[index]!.trim();
    if (line === "") continue;
    operations.push(parseOperation(line, index + 1));
  }
  return operations;
}

export async function writeHistoryFile(path: string, operations: readonly Operation[]): Promise<void> {
  await writeFile(path, formatHistory(operations), "utf8");
}

export async function readHistoryFile(path: string): Promise<Operation[]> {
  return parseHistory(await readFile(path, "utf8"));
}

const KINDS: readonly OperationKind[] = ["read", "write", "cas", "add", "read-all"];
const OUTCOMES: readonly Outcome[] = ["ok", "fail", "unknown"];

type Fields = Readonly<Record<string, unknown>>;

function parseOperation(line: string, lineNumber: number): Operation {
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch (error) {
    throw new HistoryFormatError(lineNumber, `not JSON (${(error as Error).message})`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new HistoryFormatError(lineNumber, "not a JSON object");
  }
  const fields = parsed as Fields;
  const fail = (reason: string): never => {
    throw new HistoryFormatError(lineNumber, reason);
  };
  checkTiming(fields, fail);
  checkShape(fields, fail);
  // The checks above establish every field the Operation union requires for this `op`.
  return fields as unknown as Operation;
}

function checkTiming(fields: Fields, fail: (reason: string) => never): void {
  if (!Number.isInteger(fields.client)) fail("client must be an integer");
  if (!KINDS.includes(fields.op as OperationKind)) fail(`unknown op ${JSON.stringify(fields.op)}`);
  if (!OUTCOMES.includes(fields.outcome as Outcome))
    fail(`unknown outcome ${JSON.stringify(fields.outcome)}`);
  if (!Number.isFinite(fields.invokeMs)) fail("invokeMs must be a number");
  if (fields.completeMs === undefined) {
    if (fields.outcome !== "unknown") fail("only an unknown outcome may lack completeMs");
    return;
  }
  if (!Number.isFinite(fields.completeMs)) fail("completeMs must be a number");
  if ((fields.completeMs as number) < (fields.invokeMs as number)) fail("completeMs is before invokeMs");
}

function checkShape(fields: Fields, fail: (reason: string) => never): void {
  const args = (fields.args ?? {}) as Fields;
  const isString = (value: unknown) => typeof value === "string";
  const isRegisterValue = (value: unknown) => value === null || isString(value);
  const ok = fields.outcome === "ok";
  switch (fields.op as OperationKind) {
    case "read":
      if (!isString(fields.key)) fail("read needs a key");
      if (ok && !isRegisterValue(fields.result)) fail("an ok read needs a string or null result");
      return;
    case "write":
      if (!isString(fields.key) || !isString(args.value)) fail("write needs a key and args.value");
      return;
    case "cas":
      if (!isString(fields.key) || !isRegisterValue(args.expected) || !isString(args.new)) {
        fail("cas needs a key, args.expected and args.new");
      }
      return;
    case "add":
      if (!isString(args.element)) fail("add needs args.element");
      return;
    case "read-all":
      if (ok && !(Array.isArray(fields.result) && fields.result.every(isString))) {
        fail("an ok read-all needs a string array result");
      }
      return;
  }
}
