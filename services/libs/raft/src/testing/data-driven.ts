/**
 * The data-driven test file format (after cockroachdb/datadriven, as used by etcd raft):
 *
 *   # comments and blank lines between cases are kept verbatim
 *   command arg key=value key=(a,b) (x,y)
 *   optional input lines
 *   ----
 *   expected output, up to the next blank line
 *
 * Output containing blank lines is wrapped in a second separator pair:
 *
 *   ----
 *   ----
 *   output
 *
 *   more output
 *   ----
 *   ----
 */

export interface CommandArgument {
  /** The key of `key=value`; the token itself for a bare word; "" for a bare `(a,b)` group. */
  readonly key: string;
  readonly values: readonly string[];
}

export interface DataDrivenCase {
  /** 1-based line of the command, for error messages. */
  readonly line: number;
  readonly command: string;
  readonly arguments: readonly CommandArgument[];
  readonly input: readonly string[];
  readonly expected: string;
  /** The command line and input lines exactly as written. */
  readonly source: readonly string[];
}

export type DataDrivenSegment =
  | { readonly kind: "text"; readonly lines: readonly string[] }
  | { readonly kind: "case"; readonly testCase: DataDrivenCase };

export class DataDrivenParseError extends Error {
  override readonly name = "DataDrivenParseError";
  constructor(fileName: string, line: number, reason: string) {
    super(`${fileName}:${line}: ${reason}`);
  }
}

const SEPARATOR = "----";

function parseValues(text: string): string[] {
  if (text.startsWith("(") && text.endsWith(")")) {
    const inner = text.slice(1, -1).trim();
    return inner === "" ? [] : inner.split(",").map((value) => value.trim());
  }
  return [text];
}

export function parseArguments(tokens: readonly string[]): CommandArgument[] {
  return tokens.map((token) => {
    if (token.startsWith("(")) return { key: "", values: parseValues(token) };
    const equals = token.indexOf("=");
    if (equals < 0) return { key: token, values: [] };
    return { key: token.slice(0, equals), values: parseValues(token.slice(equals + 1)) };
  });
}

/** Splits on whitespace, keeping `(a, b)` groups together even if they contain spaces. */
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

interface ExpectedBlock {
  readonly expected: string;
  readonly nextLine: number;
}

function readExpected(lines: readonly string[], start: number, fileName: string): ExpectedBlock {
  if (lines[start] === SEPARATOR) {
    // Double-separator form: everything up to a "----" line directly followed by another "----".
    for (let end = start + 1; end + 1 < lines.length; end++) {
      if (lines[end] === SEPARATOR && lines[end + 1] === SEPARATOR) {
        return { expected: lines.slice(start + 1, end).join("\n"), nextLine: end + 2 };
      }
    }
    throw new DataDrivenParseError(fileName, start + 1, "unterminated ----/---- output block");
  }
  let end = start;
  while (end < lines.length && lines[end] !== "") end++;
  return { expected: lines.slice(start, end).join("\n"), nextLine: end };
}

export function parseDataDriven(text: string, fileName: string): DataDrivenSegment[] {
  const lines = text.split("\n");
  if (lines[lines.length - 1] === "") lines.pop();
  const segments: DataDrivenSegment[] = [];
  let pendingText: string[] = [];
  let lineIndex = 0;
  while (lineIndex < lines.length) {
    const line = lines[lineIndex]!;
    if (line.trim() === "" || line.startsWith("#")) {
      pendingText.push(line);
      lineIndex++;
      continue;
    }
    if (pendingText.length > 0) segments.push({ kind: "text", lines: pendingText });
    pendingText = [];
    const commandLine = lineIndex;
    const source: string[] = [];
    while (lineIndex < lines.length && lines[lineIndex] !== SEPARATOR) {
      if (lines[lineIndex]!.trim() === "") {
        throw new DataDrivenParseError(fileName, lineIndex + 1, "blank line before the ---- separator");
      }
      source.push(lines[lineIndex]!);
      lineIndex++;
    }
    if (lineIndex >= lines.length) throw new DataDrivenParseError(fileName, commandLine + 1, "missing ----");
    const { expected, nextLine } = readExpected(lines, lineIndex + 1, fileName);
    lineIndex = nextLine;
    const [command, ...tokens] = tokenize(source[0]!);
    segments.push({
      kind: "case",
      testCase: {
        line: commandLine + 1,
        command: command!,
        arguments: parseArguments(tokens),
        input: source.slice(1),
        expected,
        source,
      },
    });
  }
  if (pendingText.length > 0) segments.push({ kind: "text", lines: pendingText });
  return segments;
}

/** Renders the file back with `outputs` (one per case, in order) as the expected output. */
export function renderDataDriven(segments: readonly DataDrivenSegment[], outputs: readonly string[]): string {
  const lines: string[] = [];
  let caseIndex = 0;
  for (const segment of segments) {
    if (segment.kind === "text") {
      lines.push(...segment.lines);
      continue;
    }
    const output = outputs[caseIndex++]!;
    lines.push(...segment.testCase.source, SEPARATOR);
    if (output.split("\n").some((line) => line.trim() === "")) {
      lines.push(SEPARATOR, output, SEPARATOR, SEPARATOR);
    } else {
      lines.push(output);
    }
  }
  return `${lines.join("\n")}\n`;
}
