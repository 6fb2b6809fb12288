// Fails when production code imports test support, naming each file and import.
//
// Production is every source file under services/*/src and services/libs/*/src that is neither a test
// (`*.test.ts`) nor test support itself. Test support is anything in a `testing/` or `testdata/` folder
// or named `test-*` (the old `test-support.ts`, `test-cluster.ts` … spellings), plus the package.json
// "imports" aliases that point at such files (`#raft/testing`). Test support may import production code
// and other test support; production code may import neither tests nor test support, so a fake, a
// harness or a bug switch can never be built into a service.
//
// Usage: node scripts/check-test-imports.mjs [repository root]   (default: the repository of this script)
import { readdirSync, readFileSync } from "node:fs";
import { dirname, extname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const SOURCE_EXTENSIONS = new Set([".ts", ".mts", ".js", ".mjs"]);
// `from "x"`, `import "x"`, `import("x")`; comments are removed first.
const IMPORT_SPECIFIER = /(?:\bfrom|\bimport)\s*\(?\s*["']([^"']+)["']/g;

/** True for tests and test support, by the path convention above (`path` relative to the root). */
export function isTestSupport(path) {
  const parts = path.split(/[\\/]/);
  const name = parts.at(-1) ?? "";
  return (
    parts.includes("testing") ||
    parts.includes("testdata") ||
    name.startsWith("test-") ||
    /\.test\.[cm]?[jt]s$/.test(name)
  );
}

/** Every import of test support by a production file under `root`, as "file imports specifier" lines. */
export function findTestSupportImports(root) {
  const aliases = testSupportAliases(root);
  const violations = [];
  for (const file of productionFiles(root)) {
    const source = stripComments(readFileSync(file, "utf8"));
    for (const [, specifier] of source.matchAll(IMPORT_SPECIFIER)) {
      const target = resolveSpecifier(root, file, specifier, aliases);
      if (target !== undefined) violations.push(`${relative(root, file)} imports "${specifier}" (${target})`);
    }
  }
  return violations;
}

/** package.json "imports" aliases whose target is test support, as exact names and `#x/` prefixes. */
function testSupportAliases(root) {
  const imports = JSON.parse(readFileSync(join(root, "package.json"), "utf8")).imports ?? {};
  const aliases = [];
  for (const [alias, target] of Object.entries(imports)) {
    if (typeof target !== "string") continue;
    const pattern = alias.endsWith("/*");
    if (isTestSupport(target) || (pattern && isTestSupport(`${target.slice(0, -2)}/x`))) {
      aliases.push({ name: pattern ? alias.slice(0, -1) : alias, pattern, target });
    }
  }
  return aliases;
}

function* productionFiles(root) {
  const services = join(root, "services");
  for (const source of sourceRoots(services)) {
    for (const file of walk(source)) {
      if (!isTestSupport(relative(root, file))) yield file;
    }
  }
}

/** services/<service>/src and services/libs/<lib>/src. */
function sourceRoots(services) {
  const roots = [];
  for (const entry of directories(services)) {
    if (entry === "libs") {
      for (const lib of directories(join(services, "libs"))) roots.push(join(services, "libs", lib, "src"));
    } else {
      roots.push(join(services, entry, "src"));
    }
  }
  return roots;
}

function directories(path) {
  try {
    return readdirSync(path, { withFileTypes: true })
      .filter((entry) => entry.isDirectory())
      .map((entry) => entry.name);
  } catch {
    return [];
  }
}

function* walk(directory) {
  let entries;
  try {
    entries = readdirSync(directory, { withFileTypes: true });
  } catch {
    return;
  }
  for (const entry of entries) {
    if (entry.name === "node_modules" || entry.name.startsWith(".")) continue;
    const path = join(directory, entry.name);
    if (entry.isDirectory()) yield* walk(path);
    else if (SOURCE_EXTENSIONS.has(extname(entry.name))) yield path;
  }
}

/** The test support `specifier` names (a path relative to the root, or the alias), or undefined. */
function resolveSpecifier(root, file, specifier, aliases) {
  if (specifier.startsWith(".")) {
    const target = relative(root, resolve(dirname(file), specifier))
      .split(sep)
      .join("/");
    return isTestSupport(target) ? target : undefined;
  }
  if (!specifier.startsWith("#")) return undefined;
  const alias = aliases.find(({ name, pattern }) =>
    pattern ? specifier.startsWith(name) : specifier === name,
  );
  return alias === undefined ? undefined : `alias of ${alias.target}`;
}

/** Block comments and whole-line `//` comments (a `//` inside a string, as in a URL, stays). */
function stripComments(source) {
  return source.replace(/\/\*[\s\S]*?\*\//g, "").replace(/^\s*\/\/.*$/gm, "");
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const root = resolve(process.argv[2] ?? join(dirname(fileURLToPath(import.meta.url)), ".."));
  const violations = findTestSupportImports(root);
  if (violations.length > 0) {
    console.error(
      `production code imports test support (move the import into a test, or the code out of testing/):`,
    );
    for (const violation of violations) console.error(`  ${violation}`);
    process.exit(1);
  }
}
