/**
 * Failover figure (on demand, root): `npx tsx tests/chaos/failover.ts [--rounds 20]`.
 * Under a steady write load, kill -9 the store that leads the region, and measure the time from the kill
 * to the first write invoked after it that succeeds; restart the store, let it catch up, repeat. Prints
 * each round, then the median and max (target: median ≤ 2 s, max ≤ 5 s).
 */
import { parseArgs } from "node:util";
import { sleep } from "#runtime";
import { ChaosCluster } from "./netns/chaos-cluster.ts";
import { CountingRawKvClient } from "./workload/attempt-counting-client.ts";

const WRITERS = 8;
const SETTLE_MS = 3_000;
const REQUEST_TIMEOUT_MS = 1_000;
const BACKOFF_BUDGET_MS = 10_000;
const LEADER_WAIT_MS = 20_000;
const encoder = new TextEncoder();

interface WriteLoad {
  /** Completion times of successful writes, with their invoke times. */
  readonly successes: Array<{ readonly invokeMs: number; readonly completeMs: number }>;
  stop(): Promise<void>;
}

function startWriteLoad(client: CountingRawKvClient): WriteLoad {
  const successes: Array<{ invokeMs: number; completeMs: number }> = [];
  let running = true;
  const loops = Array.from({ length: WRITERS }, async (_, writer) => {
    for (let count = 0; running; count++) {
      const invokeMs = performance.now();
      try {
        await client.client.put(
          encoder.encode(`failover/${writer}/${count % 100}`),
          encoder.encode(String(count)),
        );
        successes.push({ invokeMs, completeMs: performance.now() });
      } catch {
        // Failed writes are expected while there is no leader; the next one retries.
      }
    }
  });
  return {
    successes,
    stop: async () => {
      running = false;
      await Promise.all(loops);
    },
  };
}

async function leaderNode(cluster: ChaosCluster): Promise<string> {
  const deadline = Date.now() + LEADER_WAIT_MS;
  while (Date.now() < deadline) {
    const [regions, nodes] = await Promise.all([cluster.regions(), cluster.storeNodesById()]).catch(
      () => [[], new Map()] as const,
    );
    const leader = regions[0]?.leaderStoreId;
    const node = leader === undefined ? undefined : nodes.get(leader);
    if (node !== undefined && cluster.process(node).running) return node;
    await sleep(200);
  }
  throw new Error(`no leader reported by pd within ${LEADER_WAIT_MS} ms`);
}

async function measureRound(cluster: ChaosCluster, load: WriteLoad): Promise<number> {
  const node = await leaderNode(cluster);
  const killedMs = performance.now();
  await cluster.process(node).kill();
  let recoveredMs: number | undefined;
  while (recoveredMs === undefined && performance.now() - killedMs < BACKOFF_BUDGET_MS * 2) {
    await sleep(20);
    recoveredMs = load.successes.find((write) => write.invokeMs >= killedMs)?.completeMs;
  }
  await cluster.process(node).start();
  if (recoveredMs === undefined) throw new Error(`writes did not recover after killing ${node}`);
  return recoveredMs - killedMs;
}

function percentile(sorted: readonly number[], fraction: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(fraction * sorted.length))]!;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { rounds: { type: "string", default: "20" } } });
  const rounds = Number(values.rounds);
  const cluster = await ChaosCluster.start();
  let client: CountingRawKvClient | undefined;
  try {
    client = await CountingRawKvClient.connect({
      pdEndpoints: [cluster.pdEndpoint],
      requestTimeoutMs: REQUEST_TIMEOUT_MS,
      backoffBudgetMs: BACKOFF_BUDGET_MS,
    });
    const load = startWriteLoad(client);
    const times: number[] = [];
    try {
      for (let round = 1; round <= rounds; round++) {
        await sleep(SETTLE_MS);
        const ms = await measureRound(cluster, load);
        times.push(ms);
        process.stdout.write(`round ${round}: writes succeed again after ${ms.toFixed(0)} ms\n`);
        load.successes.length = 0;
      }
    } finally {
      await load.stop();
    }
    const sorted = [...times].sort((left, right) => left - right);
    process.stdout.write(
      `failover over ${rounds} kills: median ${percentile(sorted, 0.5).toFixed(0)} ms, max ${sorted.at(-1)!.toFixed(0)} ms (target median ≤ 2000, max ≤ 5000)\n`,
    );
  } finally {
    await client?.close();
    await cluster.destroy();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(
    `failover: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exitCode = 1;
});
