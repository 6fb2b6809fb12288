/**
 * Typed access to one script step's arguments. Every argument must be used by the command, so a typo
 * (`comit=15`) fails the step instead of silently taking a default.
 */
import type { ScriptArgument, ScriptStep } from "./script-file.ts";
import { parseKey, parseTimestamp } from "./script-values.ts";

export class ScriptStepError extends Error {
  override readonly name = "ScriptStepError";
  constructor(step: ScriptStep, reason: string) {
    super(`line ${step.line}: ${step.command}: ${reason}`);
  }
}

export class ScriptArguments {
  private readonly used = new Set<ScriptArgument>();

  constructor(private readonly step: ScriptStep) {}

  fail(reason: string): never {
    throw new ScriptStepError(this.step, reason);
  }

  /** The values of `key=…`, or undefined when the argument is absent. */
  list(key: string): readonly string[] | undefined {
    const argument = this.step.arguments.find((candidate) => candidate.key === key);
    if (argument === undefined) return undefined;
    this.used.add(argument);
    return argument.values;
  }

  text(key: string): string | undefined {
    const values = this.list(key);
    if (values === undefined) return undefined;
    if (values.length !== 1) this.fail(`${key}= takes one value`);
    return values[0];
  }

  timestamp(key: string, fallback?: bigint): bigint {
    const spelling = this.text(key);
    if (spelling !== undefined) return parseTimestamp(spelling);
    return fallback ?? this.fail(`missing ${key}=`);
  }

  integer(key: string, fallback: number): number {
    const spelling = this.text(key);
    return spelling === undefined ? fallback : Number(spelling);
  }

  keys(key: string): Uint8Array[] | undefined {
    return this.list(key)?.map(parseKey);
  }

  flag(word: string): boolean {
    const argument = this.step.arguments.find(
      (candidate) => candidate.key === word && candidate.values.length === 0,
    );
    if (argument !== undefined) this.used.add(argument);
    return argument !== undefined;
  }

  /** Every argument not used yet, in order (mutations, keys), marking them used. */
  rest(): ScriptArgument[] {
    const rest = this.step.arguments.filter((argument) => !this.used.has(argument));
    for (const argument of rest) this.used.add(argument);
    return rest;
  }

  /** The remaining arguments as bare keys. */
  restKeys(): Uint8Array[] {
    return this.rest().map((argument) =>
      argument.values.length === 0 ? parseKey(argument.key) : this.fail(`unknown argument ${argument.key}=`),
    );
  }

  /** Fails on any argument the command did not use. */
  finish(): void {
    const unused = this.step.arguments.filter((argument) => !this.used.has(argument));
    if (unused.length > 0)
      this.fail(`unknown arguments ${unused.map((argument) => argument.key).join(", ")}`);
  }
}
