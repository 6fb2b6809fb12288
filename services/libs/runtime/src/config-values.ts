/**
 * Turns one raw setting into its typed value. Settings arrive either as text (flags, environment
 * variables) or already typed (TOML values, schema defaults); both paths share the same checks so a value
 * means the same thing wherever it is written.
 */
import type { ConfigOption, IntOption, NumberOption } from "./config-schema.ts";

export type RawOrigin = "text" | "typed";

const MS_PER_DURATION_UNIT: Readonly<Record<string, number>> = {
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

// TiKV reads "MB" as MiB; we follow it so configs carry over, and accept the unambiguous "MiB" too.
const BYTES_PER_SIZE_UNIT: Readonly<Record<string, number>> = {
  "": 1,
  B: 1,
  K: 2 ** 10,
  KB: 2 ** 10,
  KiB: 2 ** 10,
  M: 2 ** 20,
  MB: 2 ** 20,
  MiB: 2 ** 20,
  G: 2 ** 30,
  GB: 2 ** 30,
  GiB: 2 ** 30,
  T: 2 ** 40,
  TB: 2 ** 40,
  TiB: 2 ** 40,
};

/** Parses "100ms", "1.5s", "1h30m" into milliseconds; undefined when the text is not a whole-ms duration. */
export function parseDurationMs(text: string): number | undefined {
  const components = text.match(/\d+(?:\.\d+)?(?:ms|s|m|h|d)/g);
  if (components === null || components.join("") !== text) return undefined;
  let totalMs = 0;
  for (const component of components) {
    const [, amount, unit] = component.match(/^([\d.]+)(ms|s|m|h|d)$/)!;
    totalMs += Number(amount) * MS_PER_DURATION_UNIT[unit!]!;
  }
  return wholeNumber(totalMs);
}

/** Parses "96MiB", "512KB", "1.5GiB" or "4096" into bytes; undefined when the text is not a whole size. */
export function parseSizeBytes(text: string): number | undefined {
  const match = text.match(/^(\d+(?:\.\d+)?)\s*([A-Za-z]*)$/);
  if (match === null) return undefined;
  const bytesPerUnit = BYTES_PER_SIZE_UNIT[match[2]!];
  if (bytesPerUnit === undefined) return undefined;
  return wholeNumber(Number(match[1]) * bytesPerUnit);
}

/** Absorbs float noise from decimal inputs ("1.1s") but refuses true fractions ("0.5ms"). */
function wholeNumber(value: number): number | undefined {
  const rounded = Math.round(value);
  if (!Number.isSafeInteger(rounded) || Math.abs(value - rounded) > 1e-6) return undefined;
  return rounded;
}

/** The typed value, or undefined when `raw` is not a valid value for the option (see `describeExpected`). */
export function convertValue(option: ConfigOption, raw: unknown, origin: RawOrigin): unknown {
  switch (option.type) {
    case "string":
      return typeof raw === "string" ? raw : undefined;
    case "int":
      return convertNumber(option, origin === "text" ? parseIntegerText(raw) : raw);
    case "number":
      return convertNumber(option, origin === "text" ? parseNumberText(raw) : raw);
    case "bool":
      return convertBool(raw, origin);
    case "duration":
      return typeof raw === "string" ? parseDurationMs(raw) : undefined;
    case "size":
      return convertSize(raw);
    case "enum":
      return typeof raw === "string" && option.values.includes(raw) ? raw : undefined;
    case "string-list":
      return convertStringList(raw, origin);
  }
}

/** How a value of this option is written, for help text and error messages. */
export function describeExpected(option: ConfigOption): string {
  switch (option.type) {
    case "string":
      return "a string";
    case "int":
    case "number":
      return numberExpectation(option);
    case "bool":
      return "true or false";
    case "duration":
      return 'a duration such as "100ms", "10s", "30m" or "1h30m"';
    case "size":
      return 'a size such as "512KiB", "96MiB", "1GB" (binary units) or a whole number of bytes';
    case "enum":
      return `one of ${option.values.map((value) => JSON.stringify(value)).join(", ")}`;
    case "string-list":
      return "a list of strings (comma-separated in flags and environment variables)";
  }
}

function parseIntegerText(raw: unknown): unknown {
  return typeof raw === "string" && /^[+-]?\d+$/.test(raw) ? Number(raw) : raw;
}

function parseNumberText(raw: unknown): unknown {
  return typeof raw === "string" && /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(raw) ? Number(raw) : raw;
}

function convertNumber(option: IntOption | NumberOption, raw: unknown): number | undefined {
  if (typeof raw !== "number" || !Number.isFinite(raw)) return undefined;
  if (option.type === "int" && !Number.isSafeInteger(raw)) return undefined;
  if (option.min !== undefined && raw < option.min) return undefined;
  if (option.max !== undefined && raw > option.max) return undefined;
  return raw;
}

function numberExpectation(option: IntOption | NumberOption): string {
  const noun = option.type === "int" ? "an integer" : "a number";
  if (option.min !== undefined && option.max !== undefined)
    return `${noun} from ${option.min} to ${option.max}`;
  if (option.min !== undefined) return `${noun} of at least ${option.min}`;
  if (option.max !== undefined) return `${noun} of at most ${option.max}`;
  return noun;
}

function convertBool(raw: unknown, origin: RawOrigin): boolean | undefined {
  if (origin === "typed") return typeof raw === "boolean" ? raw : undefined;
  if (raw === "true") return true;
  if (raw === "false") return false;
  return undefined;
}

function convertSize(raw: unknown): number | undefined {
  if (typeof raw === "number") return Number.isSafeInteger(raw) && raw >= 0 ? raw : undefined;
  return typeof raw === "string" ? parseSizeBytes(raw) : undefined;
}

function convertStringList(raw: unknown, origin: RawOrigin): readonly string[] | undefined {
  if (origin === "text" && typeof raw === "string") {
    return raw
      .split(",")
      .map((item) => item.trim())
      .filter((item) => item.length > 0);
  }
  if (Array.isArray(raw) && raw.every((item) => typeof item === "string")) return [...raw];
  return undefined;
}
