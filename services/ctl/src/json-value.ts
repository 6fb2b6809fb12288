/**
 * Reading pd's JSON answers without trusting their shape: a missing or unexpected field renders as "-"
 * rather than crashing the CLI, since ctl may talk to a pd of another version.
 */

export type JsonRecord = Readonly<Record<string, unknown>>;

export function asRecord(value: unknown): JsonRecord {
  return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as JsonRecord) : {};
}

export function asArray(value: unknown): readonly unknown[] {
  return Array.isArray(value) ? value : [];
}

/** A scalar as text; "-" for absent values; arrays joined with commas; other objects as compact JSON. */
export function display(value: unknown): string {
  if (value === undefined || value === null || value === "") return "-";
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean" || typeof value === "bigint")
    return String(value);
  if (Array.isArray(value)) return value.length === 0 ? "-" : value.map(display).join(",");
  return JSON.stringify(value);
}

const BYTE_UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"] as const;

/** A byte count (number or decimal string, as pd sends large ones) in binary units, e.g. "1.5 GiB". */
export function displayBytes(value: unknown): string {
  const bytes = typeof value === "string" && /^\d+$/.test(value) ? Number(value) : value;
  if (typeof bytes !== "number" || !Number.isFinite(bytes) || bytes < 0) return display(value);
  let scaled = bytes;
  let unit = 0;
  while (scaled >= 1024 && unit < BYTE_UNITS.length - 1) {
    scaled /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes} B` : `${scaled.toFixed(1)} ${BYTE_UNITS[unit]}`;
}
