/**
 * The npm packages a service loads at run time, found by following imports from its entry point through
 * relative paths and package.json's `#` subpath imports. The image installs production dependencies only
 * (`npm ci --omit=dev`), so each of these must be one. Type-only imports vanish at run time and are skipped.
 */
import { existsSync, readFileSync } from "node:fs";
import { builtinModules } from "node:module";
import { dirname, join, relative, resolve } from "node:path";

const BUILTINS = new Set(builtinModules);
const IMPORT_PATTERNS: readonly RegExp[] = [
  /(?:^|[\s;])import\s+(?!type\s)(?:[^'";]*?\sfrom\s*)?["']([^"']+)["']/g,
  /(?:^|[\s;])export\s+(?!type\s)(?:\*|\{[^}]*\})(?:\s+as\s+\w+)?\s*from\s*["']([^"']+)["']/g,
  /\bimport\(\s*["']([^"']+)["']\s*\)/g,
  /\brequire\(\s*["']([^"']+)["']\s*\)/g,
];

/** A local import of a non-code file (package.json for the version): nothing to follow. */
const DATA_FILE = Symbol("data file");

export interface RuntimePackage {
  readonly name: string;
  /** One file that imports it, relative to the repository root, for the failure message. */
  readonly importedBy: string;
}

export function runtimePackages(repositoryRoot: string, entryPoints: readonly string[]): RuntimePackage[] {
  const subpathImports = readSubpathImports(repositoryRoot);
  const packages = new Map<string, string>();
  const visited = new Set<string>();
  const pending = entryPoints.map((entry) => resolve(repositoryRoot, entry));
  while (pending.length > 0) {
    const file = pending.pop()!;
    if (visited.has(file)) continue;
    visited.add(file);
    for (const specifier of importSpecifiers(readFileSync(file, "utf8"))) {
      const local = resolveLocal(specifier, file, repositoryRoot, subpathImports);
      if (local === DATA_FILE) continue;
      if (local !== undefined) pending.push(local);
      else if (!isBuiltin(specifier) && !packages.has(packageName(specifier))) {
        packages.set(packageName(specifier), relative(repositoryRoot, file));
      }
    }
  }
  return [...packages].map(([name, importedBy]) => ({ name, importedBy }));
}

function importSpecifiers(source: string): string[] {
  const code = source.replace(/\/\*[\s\S]*?\*\//g, "").replace(/(^|[^:"'`\\])\/\/.*$/gm, "$1");
  return IMPORT_PATTERNS.flatMap((pattern) => [...code.matchAll(pattern)].map((match) => match[1]!));
}

function resolveLocal(
  specifier: string,
  file: string,
  repositoryRoot: string,
  subpathImports: ReadonlyMap<string, string>,
): string | typeof DATA_FILE | undefined {
  if (specifier.startsWith(".")) return existingModule(resolve(dirname(file), specifier), specifier, file);
  if (!specifier.startsWith("#")) return undefined;
  for (const [pattern, target] of subpathImports) {
    const wildcard = pattern.endsWith("*") ? pattern.slice(0, -1) : undefined;
    const mapped =
      pattern === specifier
        ? target
        : wildcard !== undefined && specifier.startsWith(wildcard)
          ? target.replace("*", specifier.slice(wildcard.length))
          : undefined;
    if (mapped !== undefined) return existingModule(join(repositoryRoot, mapped), specifier, file);
  }
  throw new Error(`${file} imports ${specifier}, which package.json "imports" does not map`);
}

function existingModule(path: string, specifier: string, file: string): string | typeof DATA_FILE {
  if (!path.endsWith(".ts") && /\.\w+$/.test(path) && existsSync(path)) return DATA_FILE;
  const candidates = [path, `${path}.ts`, join(path, "index.ts")];
  const found = candidates.find((candidate) => candidate.endsWith(".ts") && existsSync(candidate));
  if (found === undefined) throw new Error(`${file} imports ${specifier}, which resolves to no .ts file`);
  return found;
}

function readSubpathImports(repositoryRoot: string): ReadonlyMap<string, string> {
  const manifest = JSON.parse(readFileSync(join(repositoryRoot, "package.json"), "utf8")) as {
    readonly imports?: Readonly<Record<string, string>>;
  };
  return new Map(Object.entries(manifest.imports ?? {}));
}

function isBuiltin(specifier: string): boolean {
  return specifier.startsWith("node:") || BUILTINS.has(specifier);
}

function packageName(specifier: string): string {
  const parts = specifier.split("/");
  return specifier.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0]!;
}
