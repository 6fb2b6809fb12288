/**
 * Model-based test of the Percolator actions: random concurrent transactions interleaved request by
 * request against one in-memory store, with crashing clients whose locks others resolve, checked against
 * snapshot isolation over the transactions that reached their commit point (testing/txn-actions/
 * model-checks.ts says what is checked). server/txn-model-grpc.test.ts runs the same workload against a
 * real store over gRPC. Prints its seed; SEED=n replays the same workloads.
 */
import { describe, it } from "node:test";
import fc from "fast-check";
import { SeededRandom } from "#runtime";
import { resolveSeed } from "#sim";
import { checkRun, withTrace } from "../../testing/txn-actions/model-checks.ts";
import {
  type InterleavedOptions,
  runInterleavedWorkload,
} from "../../testing/txn-actions/percolator-workload.ts";
import { readStoreHistory } from "../../testing/txn-actions/store-history.ts";

const SEED = resolveSeed("percolator model");
const RUNS = 200;
const OPTIONS: InterleavedOptions = {
  keyPrefix: "",
  keyCount: 4,
  txnCount: 12,
  maxConcurrentTxns: 4,
  maxOperationsPerTxn: 4,
  crashChance: 0.03,
  heartbeatChance: 0.05,
  maxClockStepMs: 40,
  sameMillisecondChance: 0.6,
  lockTtlsMs: [50n, 200n, 1000n],
};

describe(`percolator actions under concurrent, crashing clients match snapshot isolation (SEED=${SEED})`, () => {
  it(`${RUNS} workloads of ${OPTIONS.txnCount} transactions`, async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 2 ** 31 - 1 }), async (workloadSeed) => {
        const trace: string[] = [];
        try {
          const run = await runInterleavedWorkload(new SeededRandom(workloadSeed), OPTIONS, trace);
          checkRun(run, await readStoreHistory(run.harness.storage, run.range));
        } catch (error) {
          throw withTrace(String(workloadSeed), trace, error);
        }
      }),
      { seed: SEED, numRuns: RUNS, endOnFailure: true, includeErrorInReport: true },
    );
  });
});
