/**
 * The model-based Percolator test (txn/actions/percolator-model.test.ts) against real stores: the same
 * random transactions, crashing clients, lock resolver and snapshot-isolation checks
 * (testing/txn-actions/model-checks.ts), but every request is a kvrpcpb RPC over gRPC, so the scheduler
 * stands in between — latches, leader reads, one raft proposal per command, memory locks and max_ts for
 * async commit and 1PC, pessimistic lock waiting and the deadlock detector — and the requests of many
 * transactions are in flight at once: several workloads run side by side on their own keys, each with
 * several clients, each client driving one transaction after another with random pauses.
 *
 * Two clusters: one store, and three stores whose region's leadership moves every few hundred ms while the
 * clients run (requests meet NotLeader and retry on the new leader, which must sync max_ts from the TSO
 * before its first async-commit or 1PC prewrite). On three stores every replica must end with the
 * leader's data.
 *
 * Timestamps: every start_ts, commit_ts and current_ts comes from pd's TSO, and TTLs are short real
 * durations. The store compares a lock's TTL with the current_ts the resolver passes, and raises a
 * region's max_ts from the TSO before async commit or 1PC; on a simulated clock far below the TSO every
 * such commit_ts would jump to the TSO's time, and no TTL would expire as the model expects. On the TSO,
 * a lock expires once real time passes its TTL, as it does for a real client.
 *
 * Prints its seed; SEED=n replays the same transactions, each with the same choices (prewrite order,
 * pauses, crash points, heartbeats), and the same leader targets, but not how the requests interleave in
 * real time, and so not always what the store answers.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type Random, SeededRandom, sleep } from "#runtime";
import { resolveSeed } from "#sim";
import { StoreCluster } from "../testing/cluster/store-cluster.ts";
import { GrpcTxnRequests } from "../testing/txn-actions/grpc-txn-requests.ts";
import { checkRun, withTrace } from "../testing/txn-actions/model-checks.ts";
import {
  type ConcurrentOptions,
  runConcurrentWorkload,
  type WorkloadRun,
} from "../testing/txn-actions/percolator-workload.ts";
import {
  describeHistory,
  readStoreHistory,
  type StoreHistory,
} from "../testing/txn-actions/store-history.ts";
import type { TxnRequests } from "../testing/txn-actions/txn-requests.ts";
import { TxnRpc } from "../testing/txn-rpc.ts";

const SEED = resolveSeed("txn model grpc");
const OPTIONS: Omit<ConcurrentOptions, "keyPrefix"> = {
  keyCount: 4,
  txnCount: 50,
  maxConcurrentTxns: 4,
  maxOperationsPerTxn: 4,
  crashChance: 0.03,
  heartbeatChance: 0.05,
  lockTtlsMs: [20n, 100n, 400n],
  maxPauseMs: 5,
  firstBackoffMs: 5,
  maxBackoffMs: 100,
};
/** Long enough for a live holder to finish its next step, short enough that a crashed one's waiter resolves soon. */
const LOCK_WAIT_MS = 50;
const LEADER_MOVE_INTERVAL_MS = 300;

interface Suite {
  readonly stores: number;
  readonly workloads: number;
  readonly moveLeader: boolean;
}

const SUITES: readonly Suite[] = [
  { stores: 1, workloads: 4, moveLeader: false },
  { stores: 3, workloads: 2, moveLeader: true },
];

for (const suite of SUITES) {
  const setting =
    suite.stores === 1
      ? "one store"
      : `${suite.stores} stores, the leader moving every ${LEADER_MOVE_INTERVAL_MS} ms`;
  describe(`percolator transactions over gRPC under concurrent, crashing clients match snapshot isolation: ${setting} (SEED=${SEED})`, () => {
    let cluster: StoreCluster | undefined;
    let rpc: TxnRpc | undefined;

    before(async () => {
      cluster = await StoreCluster.start({
        label: "txn model grpc",
        stores: suite.stores,
        transport: "grpc",
        seed: SEED,
      });
      rpc = new TxnRpc(cluster);
    });

    after(async () => {
      rpc?.close();
      await cluster?.close();
    });

    it(`${suite.workloads} workloads of ${OPTIONS.txnCount} transactions side by side`, async () => {
      const random = new SeededRandom(SEED);
      const requests = new GrpcTxnRequests(cluster!, rpc!, { lockWaitMs: LOCK_WAIT_MS });
      let running = true;
      const [workloads, leaderMoves] = await Promise.allSettled([
        runWorkloads(cluster!, requests, suite.workloads, random.fork()).finally(() => {
          running = false;
        }),
        suite.moveLeader ? moveLeader(cluster!, random.fork(), () => running) : Promise.resolve(0),
      ]);
      if (workloads.status === "rejected") throw workloads.reason;
      if (leaderMoves.status === "rejected") throw leaderMoves.reason;
      if (suite.moveLeader) assert.ok(leaderMoves.value > 0, "the leader moved while the clients ran");
      if (suite.stores > 1) await checkReplicas(cluster!);
    });
  });
}

/** Runs the workloads side by side, each on its own keys; throws the first that failed, with its trace. */
async function runWorkloads(
  cluster: StoreCluster,
  requests: TxnRequests,
  count: number,
  random: Random,
): Promise<void> {
  const store = { requests, tso: cluster.pdClient };
  const outcomes = await Promise.allSettled(
    Array.from({ length: count }, () => random.fork()).map(async (workloadRandom, index) => {
      const trace: string[] = [];
      try {
        const options = { ...OPTIONS, keyPrefix: `w${index}/` };
        const run = await runConcurrentWorkload(workloadRandom, options, store, trace);
        checkRun(run, await leaderHistory(cluster, run));
      } catch (error) {
        throw withTrace(`w${index}`, trace, error);
      }
    }),
  );
  const failed = outcomes.find((outcome) => outcome.status === "rejected");
  if (failed !== undefined) throw failed.reason;
}

/** Moves the only region's leadership to a random other store, over and over while `running()`. */
async function moveLeader(cluster: StoreCluster, random: Random, running: () => boolean): Promise<number> {
  const regionId = cluster.firstRegionId;
  for (let moves = 0; ; moves++) {
    await sleep(LEADER_MOVE_INTERVAL_MS);
    if (!running()) return moves;
    const current = cluster.leaderOfRegion(regionId)?.index;
    await cluster.transferLeader(
      regionId,
      random.pick(cluster.indexes.filter((index) => index !== current)),
      {
        via: "facade",
      },
    );
  }
}

/** The workload's keys as the region's leader stores them, read through a consistent leader read. */
function leaderHistory(cluster: StoreCluster, run: WorkloadRun): Promise<StoreHistory> {
  return cluster.retry("read the store's history", async () => {
    const { store, context } = cluster.route(run.range.startKey);
    return store.read(context, { kind: "keys", keys: [] }, (region) =>
      readStoreHistory(region.mvcc, run.range),
    );
  });
}

/** Every replica ends with the leader's transactional data (locks, versions, values) once it caught up. */
async function checkReplicas(cluster: StoreCluster): Promise<void> {
  const everything = { startKey: new Uint8Array(0), endKey: new Uint8Array(0) };
  const regionId = cluster.firstRegionId;
  const local = async (index: number) =>
    describeHistory(
      await cluster.store(index).readLocal(regionId, (region) => readStoreHistory(region.mvcc, everything)),
    );
  // A replica behind the leader is "not yet"; the last difference seen is reported if one stays behind.
  await cluster.waitFor("every replica to hold the leader's data", async () => {
    const leader = cluster.leaderOfRegion(regionId);
    if (leader === undefined) return false;
    const expected = await local(leader.index);
    for (const index of cluster.indexes) {
      assert.deepEqual(
        await local(index),
        expected,
        `store ${index} against the leader, store ${leader.index}`,
      );
    }
    return true;
  });
}
