// Regenerates services/libs/proto/gen/ from proto/ with buf and the local ts-proto plugin.
// The output directory is removed first so a deleted .proto file leaves no stale module behind.
// Usage: node scripts/gen-proto.mjs  (or `npm run gen`)
import { spawnSync } from "node:child_process";
import { rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const outputDirectory = join(root, "services", "libs", "proto", "gen");
const buf = join(root, "node_modules", ".bin", "buf");

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
