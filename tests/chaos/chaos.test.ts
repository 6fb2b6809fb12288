/**
 * Short chaos runs (tier 4): pd and three stores as real processes in network namespaces, the workload's
 * keys split over three regions, each workload for about a minute under kill -9, SIGSTOP, partitions and
 * added latency. The checker must accept the history, and afterwards no namespace, link or process of the
 * run may remain. Needs root, `ip netns` and iptables; without them the
 * preflight fails with the reason. Longer runs: `npm run chaos -- --time 300`.
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { FAULT_KINDS } from "./nemesis/nemesis.ts";
import { CHAOS_PREFIX } from "./netns/chaos-cluster.ts";
import { listLeftovers } from "./netns/network.ts";
import { runChaos, type WorkloadName } from "./run-chaos.ts";

const RUN_SECONDS = 60;
const SEED = Number(process.env.SEED ?? 7);
const TEST_TIMEOUT_MS = 180_000;

/** Command lines of processes still running a chaos cluster's data directory, or its delay proxies. */
function leftoverServiceProcesses(): string[] {
  const found: string[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const commandLine = readFileSync(`/proc/${entry}/cmdline`, "utf8").replaceAll("\0", " ");
      if (commandLine.includes("tessera-chaos-data-") || commandLine.includes("chaos/proxy/delay-proxy.ts"))
        found.push(`${entry}: ${commandLine}`);
    } catch {
      // The process ended while we looked.
    }
  }
  return found;
}

async function assertCleanedUp(): Promise<void> {
  const leftovers = await listLeftovers(CHAOS_PREFIX);
  assert.deepEqual(leftovers, { namespaces: [], links: [] }, "namespaces or links remain");
  assert.deepEqual(leftoverServiceProcesses(), [], "service processes remain");
}

describe("chaos (network namespaces, real processes)", { concurrency: 1 }, () => {
  for (const workload of ["register", "set"] as const satisfies readonly WorkloadName[]) {
    it(`${workload} workload over three regions under kill, pause, partition and delay stays correct`, {
      timeout: TEST_TIMEOUT_MS,
    }, async () => {
      const lines: string[] = [];
      const result = await runChaos({
        workload,
        timeSeconds: RUN_SECONDS,
        nemesis: FAULT_KINDS,
        seed: SEED,
        log: (line) => lines.push(line),
      });
      const context = `seed ${SEED}, history ${result.historyPath}\n${lines.join("\n")}`;
      assert.ok(result.faults.length > 0, `no fault was injected\n${context}`);
      assert.ok(result.ok, `checker verdict ${result.verdict}\n${context}`);
      await assertCleanedUp();
    });
  }
});
