#!/usr/bin/env node
/**
 * `node scripts/cpu-profile-summary.mjs FILE.cpuprofile [--top N]`: where a `node --cpu-prof` profile
 * spent its time, as text: self time per function and per file (node_modules grouped by package), and
 * the share of idle time (an event loop waiting on I/O) versus work.
 */
import { readFileSync } from "node:fs";
import { relative } from "node:path";
import { parseArgs } from "node:util";

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { top: { type: "string", default: "30" } },
});
if (positionals.length !== 1) {
  process.stderr.write("usage: node scripts/cpu-profile-summary.mjs FILE.cpuprofile [--top N]\n");
  process.exit(2);
}
const top = Number(values.top);
// Piped into `head`, the reader may leave early: that is not an error.
process.stdout.on("error", (error) => {
  if (error.code === "EPIPE") process.exit(0);
  throw error;
});
const profile = JSON.parse(readFileSync(positionals[0], "utf8"));

const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
const selfMicros = new Map();
for (let index = 0; index < profile.samples.length; index++) {
  const id = profile.samples[index];
  selfMicros.set(id, (selfMicros.get(id) ?? 0) + (profile.timeDeltas[index] ?? 0));
}
const totalMicros = [...selfMicros.values()].reduce((sum, value) => sum + value, 0);

function place(callFrame) {
  const url = callFrame.url.replace(/^file:\/\//, "");
  if (url === "") return "(native)";
  const packageMatch = url.match(/node_modules\/((?:@[^/]+\/)?[^/]+)/);
  if (packageMatch) return `npm:${packageMatch[1]}`;
  if (url.startsWith("node:")) return url;
  return relative(process.cwd(), url);
}

const byFunction = new Map();
const byPlace = new Map();
for (const [id, micros] of selfMicros) {
  const { callFrame } = nodes.get(id);
  const where = place(callFrame);
  const name = `${callFrame.functionName || "(anonymous)"} ${where}:${callFrame.lineNumber + 1}`;
  byFunction.set(name, (byFunction.get(name) ?? 0) + micros);
  byPlace.set(where, (byPlace.get(where) ?? 0) + micros);
}

const percent = (micros) => `${((100 * micros) / totalMicros).toFixed(1).padStart(5)}%`;
const print = (title, table) => {
  process.stdout.write(`\n${title}\n`);
  for (const [name, micros] of [...table].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    process.stdout.write(`${percent(micros)} ${(micros / 1000).toFixed(0).padStart(7)} ms  ${name}\n`);
  }
};
process.stdout.write(`${positionals[0]}: ${(totalMicros / 1e6).toFixed(1)} s sampled\n`);
print("self time by function", byFunction);
print("self time by file or package", byPlace);
