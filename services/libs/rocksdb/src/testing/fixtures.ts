import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after } from "node:test";
import type { IterateOptions } from "../rocks-reader.ts";

/** A fresh directory removed after the enclosing test file, even when a test fails. */
export function temporaryDirectory(prefix: string): string {
  const directory = mkdtempSync(join(tmpdir(), `tessera-${prefix}-`));
  after(() => rmSync(directory, { recursive: true, force: true }));
  return directory;
}

export const bytes = (...values: number[]): Uint8Array => Uint8Array.from(values);
export const text = (value: string): Uint8Array => new TextEncoder().encode(value);
export const hex = (value: Uint8Array | undefined): string | undefined =>
  value === undefined ? undefined : Buffer.from(value).toString("hex");

/** The reference the iterator must agree with: filter, sort, reverse, cut. */
export function modelScan(
  keys: readonly Uint8Array[],
  options: IterateOptions,
): Array<Array<string | undefined>> {
  const inRange = keys.filter(
    (key) =>
      (options.gte === undefined || Buffer.compare(key, options.gte) >= 0) &&
      (options.gt === undefined || Buffer.compare(key, options.gt) > 0) &&
      (options.lt === undefined || Buffer.compare(key, options.lt) < 0) &&
      (options.lte === undefined || Buffer.compare(key, options.lte) <= 0),
  );
  inRange.sort(Buffer.compare);
  if (options.reverse) inRange.reverse();
  return inRange.slice(0, options.limit ?? inRange.length).map((key) => [hex(key), hex(key)]);
}
