/**
 * The file format of the action scripts (txn/actions/testdata/*.txt), the data-driven format of the raft
 * scenarios (cockroachdb/datadriven as etcd raft uses it) cut to what the scripts need:
 *
 *   # comments and blank lines between steps are kept verbatim
 *   command word key=value key=(a,b)
 *   ----
 *   expected output, up to the next blank line
 *
 * Outputs never contain blank lines (the runner prints no empty line), so the raft format's
 * double-separator form is left out. The raft parser is not exported from `#raft/testing`, and a relative
 * import across packages would bypass the aliases that check-test-imports relies on.
 */

export interface ScriptArgument {
  /** The key of `key=value`; the token itself for a bare word. */
  readonly key: string;
  /** [] for a bare word; one value for `key=v`; each item of `key=(a,b)`. */
  readonly values: readonly string[];
}

export interface ScriptStep {
  /** 1-based line of the command, for messages. */
  readonly line: number;
  readonly command: string;
  readonly arguments: readonly ScriptArgument[];
  readonly expected: string;
  readonly source: string;
}

export type ScriptSegment =
  | { readonly kind: "text"; readonly lines: readonly string[] }
  | { readonly kind: "step"; readonly step: ScriptStep };

const SEPARATOR = "----";

export class ScriptParseError extends Error {
  override readonly name = "ScriptParseError";
  constructor(fileName: string, line: number, reason: string) {
    super(`${fileName}:${line}: ${reason}`);
  }
}

export function parseScript(text: string, fileName: string): ScriptSegment[] {
  const lines = text.split("\n");
  if (lines.at(-1) === "") lines.pop();
  const segments: ScriptSegment[] = [];
  let pending: string[] = [];
  let index = 0;
  while (index < lines.length) {
    const line = lines[index]!;
    if (line.trim() === "" || line.startsWith("#")) {
      pending.push(line);
      index++;
      continue;
    }
    if (pending.length > 0) segments.push({ kind: "text", lines: pending });
    pending = [];
    if (lines[index + 1] !== SEPARATOR) {
      throw new ScriptParseError(fileName, index + 2, "a command is one line followed by ----");
    }
    let end = index + 2;
    while (end < lines.length && lines[end] !== "") end++;
    const [command, ...tokens] = tokenize(line);
    segments.push({
      kind: "step",
      step: {
        line: index + 1,
        command: command!,
        arguments: tokens.map(parseArgument),
        expected: lines.slice(index + 2, end).join("\n"),
        source: line,
      },
    });
    index = end;
  }
  if (pending.length > 0) segments.push({ kind: "text", lines: pending });
  return segments;
}

/** The file again, with `outputs` (one per step, in order) as the expected outputs. */
export function renderScript(segments: readonly ScriptSegment[], outputs: readonly string[]): string {
  const lines: string[] = [];
  let stepIndex = 0;
  for (const segment of segments) {
    if (segment.kind === "text") lines.push(...segment.lines);
    else lines.push(segment.step.source, SEPARATOR, outputs[stepIndex++]!);
  }
  return `${lines.join("\n")}\n`;
}

/** Splits on whitespace, keeping `(a, b)` groups whole. */
function tokenize(line: string): string[] {
  const tokens: string[] = [];
  let current = "";
  let depth = 0;
  for (const character of line) {
    if (character === "(") depth++;
    if (character === ")") depth--;
    if (/\s/.test(character) && depth === 0) {
      if (current !== "") tokens.push(current);
      current = "";
    } else {
      current += character;
    }
  }
  if (current !== "") tokens.push(current);
  return tokens;
}

function parseArgument(token: string): ScriptArgument {
  const equals = token.indexOf("=");
  if (equals < 0) return { key: token, values: [] };
  const value = token.slice(equals + 1);
  if (!value.startsWith("(") || !value.endsWith(")")) return { key: token.slice(0, equals), values: [value] };
  const inner = value.slice(1, -1).trim();
  return { key: token.slice(0, equals), values: inner === "" ? [] : inner.split(",").map((v) => v.trim()) };
}
