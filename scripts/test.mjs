// Runs every *.test.ts under services/ and tests/ with Node's built-in runner through tsx.
// Node 20's `--test` cannot glob TypeScript files itself, so we collect them here.
// Usage: node scripts/test.mjs [path-substring ...]  (filters which test files run)
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { ensureSystemPackages } from "./system-packages.mjs";

function collect(dir, out) {
  if (!existsSync(dir)) return out;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === "node_modules" || entry.name.startsWith(".")) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) collect(path, out);
    else if (entry.name.endsWith(".test.ts")) out.push(path);
  }
  return out;
}

ensureSystemPackages();
const filters = process.argv.slice(2);
const files = [...collect("services", []), ...collect("tests", [])]
  .filter((file) => filters.length === 0 || filters.some((f) => file.includes(f)))
  .sort();
if (files.length === 0) {
  console.error(`no test files match ${filters.join(" ")}`);
  process.exit(1);
}
// Bounds so a hung test cannot stall CI: each test gets 10 minutes, and a file whose tests are done
// exits even if a leaked handle (a server a failing test never closed) would keep it alive.
const bounds = ["--test-timeout=600000", "--test-force-exit"];
const result = spawnSync(
  process.execPath,
  ["--import", "tsx", "--test", "--test-reporter=spec", ...bounds, ...files],
  {
    stdio: "inherit",
  },
);
process.exit(result.status ?? 1);
