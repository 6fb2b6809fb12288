/**
 * `npm run bench:raft [-- --seconds 3] [--batches 1,16,64,256,1024] [--payload 128]`
 *
 * Raft core throughput: a 3-node group in one process with in-memory storage (see
 * in-memory-cluster.ts). Each loop turn proposes `batch` entries of `payload` bytes on the leader, then
 * lets every node handle its Readys and messages once; entries commit a few turns later, pipelined.
 * Prints committed entries per second and CPU microseconds per committed entry (process.cpuUsage).
 */
import { parseArgs } from "node:util";
import { InMemoryCluster } from "./in-memory-cluster.ts";

const TARGET_ENTRIES_PER_SECOND = 200_000;
const WARMUP_MS = 300;
const ELECTION_TICKS = 10;
const SETTLE_ROUNDS = 10_000;

interface BatchResult {
  readonly batch: number;
  readonly entriesPerSecond: number;
  readonly cpuMicrosecondsPerEntry: number;
  readonly dropped: number;
}

function parseList(value: string): number[] {
  return value.split(",").map((item) => {
    const parsed = Number(item);
    if (!Number.isSafeInteger(parsed) || parsed < 1) throw new RangeError(`not a positive integer: ${item}`);
    return parsed;
  });
}

export class BenchmarkInvalidError extends Error {
  override readonly name = "BenchmarkInvalidError";
}

function runFor(
  cluster: InMemoryCluster,
  batch: number,
  payload: Uint8Array,
  durationMs: number,
): { proposed: number; dropped: number } {
  let proposed = 0;
  let dropped = 0;
  const stopAtMs = performance.now() + durationMs;
  while (performance.now() < stopAtMs) {
    for (let proposal = 0; proposal < batch; proposal++) {
      proposed++;
      if (!cluster.propose(payload)) dropped++;
    }
    cluster.deliverRound();
  }
  return { proposed, dropped };
}

/** A throughput figure is only worth printing if every accepted proposal reached every node. */
function verifyEverythingCommitted(cluster: InMemoryCluster, accepted: number): void {
  cluster.settle(SETTLE_ROUNDS);
  const applied = cluster.appliedProposalsPerNode();
  if (applied.some((count) => count !== accepted)) {
    throw new BenchmarkInvalidError(
      `accepted ${accepted} proposals but the nodes applied ${applied.join(", ")}`,
    );
  }
}

function measure(batch: number, payloadSizeBytes: number, seconds: number): BatchResult {
  const cluster = new InMemoryCluster(3, {
    electionTicks: ELECTION_TICKS,
    heartbeatTicks: 2,
    preVote: true,
    checkQuorum: true,
    leaseRead: true,
    maxSizePerMessageBytes: 1024 * 1024,
    maxInflightMessages: 256,
  });
  cluster.elect(ELECTION_TICKS);
  const payload = new Uint8Array(payloadSizeBytes).fill(0x61);
  const warmup = runFor(cluster, batch, payload, WARMUP_MS);
  const committedBefore = cluster.committedProposals;
  const cpuBefore = process.cpuUsage();
  const startedMs = performance.now();
  const { proposed, dropped } = runFor(cluster, batch, payload, seconds * 1000);
  const elapsedSeconds = (performance.now() - startedMs) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  const committed = cluster.committedProposals - committedBefore;
  verifyEverythingCommitted(cluster, warmup.proposed + proposed - warmup.dropped - dropped);
  return {
    batch,
    entriesPerSecond: committed / elapsedSeconds,
    cpuMicrosecondsPerEntry: (cpu.user + cpu.system) / Math.max(1, committed),
    dropped,
  };
}

function main(): void {
  const { values } = parseArgs({
    options: {
      seconds: { type: "string", default: "3" },
      batches: { type: "string", default: "1,16,64,256,1024" },
      payload: { type: "string", default: "128" },
    },
  });
  const seconds = Number(values.seconds);
  const payloadSizeBytes = Number(values.payload);
  console.log(
    `raft core, 3 nodes in one process, in-memory storage, ${payloadSizeBytes}-byte proposals, ${seconds}s per batch size`,
  );
  console.log("batch  committed entries/s  CPU µs/entry  dropped proposals");
  let best = 0;
  for (const batch of parseList(values.batches)) {
    const result = measure(batch, payloadSizeBytes, seconds);
    best = Math.max(best, result.entriesPerSecond);
    console.log(
      `${String(result.batch).padStart(5)}  ${result.entriesPerSecond.toFixed(0).padStart(19)}  ` +
        `${result.cpuMicrosecondsPerEntry.toFixed(2).padStart(12)}  ${String(result.dropped).padStart(17)}`,
    );
  }
  const verdict = best >= TARGET_ENTRIES_PER_SECOND ? "meets" : "is below";
  console.log(
    `best ${best.toFixed(0)} entries/s ${verdict} the target of ${TARGET_ENTRIES_PER_SECOND} entries/s`,
  );
}

main();
