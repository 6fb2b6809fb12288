// Regenerates services/libs/proto/gen/ from proto/ with buf and the local ts-proto plugin.
// The output directory is removed first so a deleted .proto file leaves no stale module behind.
// Every entry point (start, ctl, pd, store, test) runs this first, so it skips the work when a stamp
// records that the output was generated from exactly the current inputs.
// Usage: node scripts/gen-proto.mjs [--force]  (or `npm run gen`)
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const outputDirectory = join(root, "services", "libs", "proto", "gen");
const stampFile = join(outputDirectory, ".inputs-sha256");
const buf = join(root, "node_modules", ".bin", "buf");

function inputsDigest() {
  const hash = createHash("sha256");
  const protoDirectory = join(root, "proto");
  const inputs = [
    ...readdirSync(protoDirectory)
      .filter((name) => name.endsWith(".proto"))
      .sort()
      .map((name) => join(protoDirectory, name)),
    join(root, "buf.yaml"),
    join(root, "buf.gen.yaml"),
    join(root, "node_modules", "ts-proto", "package.json"),
  ];
  for (const path of inputs) hash.update(path).update("\0").update(readFileSync(path)).update("\0");
  return hash.digest("hex");
}

const digest = inputsDigest();
const force = process.argv.includes("--force");
if (!force && existsSync(stampFile) && readFileSync(stampFile, "utf8") === digest) process.exit(0);

rmSync(outputDirectory, { recursive: true, force: true });
const result = spawnSync(buf, ["generate"], { cwd: root, stdio: "inherit" });
if (result.error) {
  console.error(`gen-proto: could not run ${buf}: ${result.error.message}`);
  process.exit(1);
}
if (result.status !== 0) {
  console.error(`gen-proto: buf generate failed (exit ${result.status ?? result.signal})`);
  process.exit(1);
}
writeFileSync(stampFile, digest);
