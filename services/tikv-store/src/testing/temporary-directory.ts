import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after } from "node:test";

/** A fresh directory removed after the enclosing test file, even when a test fails. */
export function temporaryDirectory(prefix: string): string {
  const directory = mkdtempSync(join(tmpdir(), `tessera-${prefix}-`));
  after(() => rmSync(directory, { recursive: true, force: true }));
  return directory;
}
