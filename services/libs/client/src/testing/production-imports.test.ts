/**
 * Test support stays out of production: no production file of the client library (anything outside
 * `testing/` that is not a test) imports `testing/`, so fakes and test servers never ship inside `#client`.
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join, sep } from "node:path";
import { test } from "node:test";

const CLIENT_SOURCE = join(import.meta.dirname, "..");
const IMPORT_SPECIFIER = /(?:from|import)\s*\(?\s*["']([^"']+)["']/g;

function isProduction(path: string): boolean {
  return path.endsWith(".ts") && !path.endsWith(".test.ts") && !path.split(sep).includes("testing");
}

test("client production files do not import the client's test support", () => {
  const offenders = readdirSync(CLIENT_SOURCE, { recursive: true, encoding: "utf8" })
    .filter(isProduction)
    .flatMap((path) =>
      [...readFileSync(join(CLIENT_SOURCE, path), "utf8").matchAll(IMPORT_SPECIFIER)]
        .map((match) => match[1]!)
        .filter((specifier) => specifier.includes("testing/"))
        .map((specifier) => `${path} imports ${specifier}`),
    );
  assert.deepEqual(offenders, []);
});
