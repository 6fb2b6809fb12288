/**
 * Test support stays out of production: a production file of the raft library (anything outside
 * `testing/` that is not a test) never imports `testing/`, and no production file under `services/`
 * imports `#raft/testing`. Otherwise a store could be built with the simulation's bug switches within reach.
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join, relative, sep } from "node:path";
import { test } from "node:test";

const RAFT_SOURCE = join(import.meta.dirname, "..");
const SERVICES = join(RAFT_SOURCE, "..", "..", "..");
const IMPORT_SPECIFIER = /(?:from|import)\s*\(?\s*["']([^"']+)["']/g;

function typeScriptFiles(directory: string): string[] {
  return readdirSync(directory, { recursive: true, encoding: "utf8" })
    .filter((path) => path.endsWith(".ts") && !path.split(sep).includes("node_modules"))
    .map((path) => join(directory, path));
}

function isProduction(path: string): boolean {
  return (
    !path.endsWith(".test.ts") && !path.split(sep).some((part) => part === "testing" || part === "testdata")
  );
}

function importsOf(path: string): string[] {
  return [...readFileSync(path, "utf8").matchAll(IMPORT_SPECIFIER)].map((match) => match[1]!);
}

test("raft production files do not import the raft test support", () => {
  const offenders = typeScriptFiles(RAFT_SOURCE)
    .filter(isProduction)
    .flatMap((path) =>
      importsOf(path)
        .filter((specifier) => specifier.includes("testing/") || specifier === "#raft/testing")
        .map((specifier) => `${relative(RAFT_SOURCE, path)} imports ${specifier}`),
    );
  assert.deepEqual(offenders, []);
});

test("no production file under services/ imports #raft/testing", () => {
  const offenders = typeScriptFiles(SERVICES)
    .filter(isProduction)
    .filter((path) => importsOf(path).includes("#raft/testing"))
    .map((path) => relative(SERVICES, path));
  assert.deepEqual(offenders, []);
});
