/**
 * scripts/check-test-imports.mjs on a fixture repository: it must name every production file that reaches
 * test support (a testing/ path, a test-* file, a test-support alias, a static or dynamic import, a
 * re-export) and let tests, test support and comments be.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";

const SCRIPT = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "scripts", "check-test-imports.mjs");

const PACKAGE_JSON = JSON.stringify({
  imports: {
    "#lib": "./services/libs/lib/src/index.ts",
    "#lib/testing": "./services/libs/lib/src/testing/index.ts",
    "#lib/fixtures/*": "./services/libs/lib/src/testdata/*",
  },
});

/** A repository whose production files import nothing they should not. */
const CLEAN: Readonly<Record<string, string>> = {
  "package.json": PACKAGE_JSON,
  "services/libs/lib/src/index.ts": 'export { helper } from "./helper.ts";\n',
  "services/libs/lib/src/helper.ts": "export const helper = 1;\n",
  "services/libs/lib/src/testing/index.ts":
    'import { helper } from "../helper.ts";\nexport const fake = helper;\n',
  "services/libs/lib/src/helper.test.ts": 'import { fake } from "./testing/index.ts";\nvoid fake;\n',
  "services/app/src/main.ts": [
    'import { helper } from "#lib";',
    "// A comment that mentions test support is not an import:",
    '// import { fake } from "#lib/testing";',
    '/* export { fake } from "./testing/fake.ts"; */',
    'const docs = "https://example.com/testing/x";',
    "void helper, docs;",
    "",
  ].join("\n"),
  "services/app/src/testing/app-harness.ts": 'import { fake } from "#lib/testing";\nvoid fake;\n',
};

/** Production files that each reach test support one way. */
const VIOLATIONS: Readonly<Record<string, string>> = {
  "services/app/src/uses-harness.ts": 'import { harness } from "./testing/app-harness.ts";\nvoid harness;\n',
  "services/app/src/server/uses-alias.ts":
    'import type { Fake } from "#lib/testing";\nexport type T = Fake;\n',
  "services/app/src/uses-old-name.ts": 'import { cluster } from "./server/test-cluster.ts";\nvoid cluster;\n',
  "services/libs/lib/src/lazy.ts": 'export const load = () => import("./testing/index.ts");\n',
  "services/libs/lib/src/re-export.ts": 'export {\n  fake,\n} from "./testing/index.ts";\n',
  "services/libs/lib/src/fixture.ts": 'import data from "#lib/fixtures/data.ts";\nvoid data;\n',
};

function fixture(files: Readonly<Record<string, string>>): string {
  const root = mkdtempSync(join(tmpdir(), "tessera-check-test-imports-"));
  after(() => rmSync(root, { recursive: true, force: true }));
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), content);
  }
  return root;
}

function check(root: string): { readonly status: number | null; readonly stderr: string } {
  const result = spawnSync(process.execPath, [SCRIPT, root], { encoding: "utf8" });
  return { status: result.status, stderr: result.stderr };
}

describe("check-test-imports", () => {
  it("passes a repository whose production code imports no test support", () => {
    const { status, stderr } = check(fixture(CLEAN));
    assert.equal(status, 0, stderr);
    assert.equal(stderr, "");
  });

  it("fails on every production import of test support, naming the file and the import", () => {
    const { status, stderr } = check(fixture({ ...CLEAN, ...VIOLATIONS }));
    assert.equal(status, 1);
    const named = stderr
      .split("\n")
      .filter((line) => line.startsWith("  "))
      .map((line) => line.trim().split(" ")[0]);
    assert.deepEqual(named.sort(), Object.keys(VIOLATIONS).sort(), stderr);
    assert.match(stderr, /services\/app\/src\/server\/uses-alias\.ts imports "#lib\/testing"/);
    assert.match(stderr, /services\/app\/src\/uses-old-name\.ts imports "\.\/server\/test-cluster\.ts"/);
  });
});
