/**
 * `npm run bench:tso [-- --pd host:port] [--seconds 3] [--callers 1,100,1000]`
 *
 * Timestamps per second and caller-observed wait (p50/p99) through the pd client, with N callers each
 * asking for one timestamp at a time in a closed loop. Without --pd it starts pd in this process (embedded
 * backend, temp data dir), so client and server share one Node thread; with --pd it measures a running pd.
 * Every caller also checks that its timestamps strictly increase.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { PdClient } from "#client";
import { pdOptionsWithDefaults, startPd } from "../../services/pd/src/server/pd-server.ts";
import { LatencyHistogram } from "./latency-histogram.ts";

const WARMUP_MS = 500;

interface LevelResult {
  readonly callers: number;
  readonly timestampsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

async function runCaller(
  client: PdClient,
  stopAtMs: number,
  histogram: LatencyHistogram | undefined,
): Promise<void> {
  let previous = 0n;
  while (performance.now() < stopAtMs) {
    const startedMs = performance.now();
    const timestamp = await client.getTimestamp();
    histogram?.record(performance.now() - startedMs);
    if (timestamp <= previous)
      throw new Error(`timestamp ${timestamp} not above this caller's previous ${previous}`);
    previous = timestamp;
  }
}

async function measure(client: PdClient, callers: number, seconds: number): Promise<LevelResult> {
  const warmupEndMs = performance.now() + WARMUP_MS;
  await Promise.all(Array.from({ length: callers }, () => runCaller(client, warmupEndMs, undefined)));
  const histogram = new LatencyHistogram();
  const startedMs = performance.now();
  await Promise.all(
    Array.from({ length: callers }, () => runCaller(client, startedMs + seconds * 1000, histogram)),
  );
  const elapsedSeconds = (performance.now() - startedMs) / 1000;
  return {
    callers,
    timestampsPerSecond: histogram.count / elapsedSeconds,
    p50Ms: histogram.percentileMs(0.5),
    p99Ms: histogram.percentileMs(0.99),
    maxMs: histogram.percentileMs(1),
  };
}

function printTable(results: readonly LevelResult[], target: string): void {
  const rows = [
    ["callers", "timestamps/s", "p50 ms", "p99 ms", "max ms"],
    ...results.map((result) => [
      String(result.callers),
      Math.round(result.timestampsPerSecond).toLocaleString("en-US"),
      result.p50Ms.toFixed(3),
      result.p99Ms.toFixed(3),
      result.maxMs.toFixed(3),
    ]),
  ];
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  console.log(`\nTSO through the pd client (${target}):`);
  for (const row of rows) console.log(row.map((cell, column) => cell.padStart(widths[column]!)).join("  "));
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      pd: { type: "string" },
      seconds: { type: "string", default: "3" },
      callers: { type: "string", default: "1,100,1000" },
    },
  });
  const seconds = Number(values.seconds);
  const levels = values.callers.split(",").map(Number);
  if (!(seconds > 0) || !levels.every((level) => Number.isInteger(level) && level > 0)) {
    throw new Error("--seconds must be positive and --callers a comma-separated list of positive integers");
  }
  const dataDir = values.pd === undefined ? mkdtempSync(join(tmpdir(), "tessera-bench-tso-")) : undefined;
  const pd =
    dataDir === undefined
      ? undefined
      : await startPd(
          pdOptionsWithDefaults({
            dataDir,
            listenHost: "127.0.0.1",
            clientPort: 0,
            httpPort: 0,
            logLevel: "warn",
          }),
        );
  const endpoint = values.pd ?? pd!.clientUrl;
  const client = await PdClient.connect({ endpoints: [endpoint] });
  try {
    const results: LevelResult[] = [];
    for (const callers of levels) results.push(await measure(client, callers, seconds));
    printTable(
      results,
      pd === undefined ? `pd at ${endpoint}` : "in-process pd, embedded backend, same thread",
    );
  } finally {
    await client.close();
    await pd?.close();
    if (dataDir !== undefined) rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(`bench:tso failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
