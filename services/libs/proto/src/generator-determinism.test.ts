import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { fileURLToPath } from "node:url";

const repositoryRoot = fileURLToPath(new URL("../../../../", import.meta.url));
const generatedPath = join("services", "libs", "proto", "gen");
const protoPackages = [
  "deadlock",
  "eraftpb",
  "errorpb",
  "kvrpcpb",
  "metapb",
  "pdpb",
  "raft_cmdpb",
  "raft_serverpb",
  "tikvpb",
];
const scratchDirectories: string[] = [];

// Runs buf with the repository's buf.gen.yaml but writes under a scratch directory, so the test
// never disturbs the generated code other tests import.
function generateIntoScratch(): Map<string, Buffer> {
  const scratch = mkdtempSync(join(tmpdir(), "tessera-proto-gen-"));
  scratchDirectories.push(scratch);
  const buf = join(repositoryRoot, "node_modules", ".bin", "buf");
  const result = spawnSync(buf, ["generate", "--output", scratch], { cwd: repositoryRoot, encoding: "utf8" });
  assert.equal(result.status, 0, `buf generate failed: ${result.error?.message ?? result.stderr}`);
  const outputDirectory = join(scratch, generatedPath);
  return new Map(
    readdirSync(outputDirectory)
      .sort()
      .map((name) => [name, readFileSync(join(outputDirectory, name))]),
  );
}

after(() => {
  for (const directory of scratchDirectories) rmSync(directory, { recursive: true, force: true });
});

test("buf generate emits one module per proto package, byte-identical across runs", () => {
  const first = generateIntoScratch();
  const second = generateIntoScratch();

  assert.deepEqual(
    [...first.keys()],
    protoPackages.map((name) => `${name}.ts`),
  );
  for (const [name, contents] of first) {
    assert.ok(contents.equals(second.get(name) ?? Buffer.alloc(0)), `${name} differs between two runs`);
  }
});
