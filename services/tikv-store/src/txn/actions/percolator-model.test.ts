/**
 * Model-based test of the Percolator actions: random concurrent transactions interleaved request by
 * request against one in-memory store, with crashing clients whose locks others resolve, checked against
 * snapshot isolation over the transactions that reached their commit point:
 *   - every read a transaction made equals the model's value at its start_ts;
 *   - no two committed transactions wrote a common key while both ran (first committer wins);
 *   - once all locks are resolved, every key's committed versions are exactly the model's, no lock is
 *     left and no value in the default column family is orphaned.
 * Prints its seed; SEED=n replays the same workloads.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { SeededRandom } from "#runtime";
import { resolveSeed } from "#sim";
import {
  runWorkload,
  type WorkloadOptions,
  type WorkloadRun,
} from "../../testing/txn-actions/percolator-workload.ts";
import { SnapshotIsolationModel } from "../../testing/txn-actions/snapshot-isolation-model.ts";
import { readStoreHistory } from "../../testing/txn-actions/store-history.ts";

const SEED = resolveSeed("percolator model");
const RUNS = 200;
const OPTIONS: WorkloadOptions = {
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
const TRACE_LINES = 80;

function modelOf(run: WorkloadRun): SnapshotIsolationModel {
  return new SnapshotIsolationModel(
    run.txns
      .filter((txn) => txn.committedAt !== undefined)
      .map((txn) => ({
        name: txn.plan.name,
        startTs: txn.startTs,
        commitTs: txn.committedAt!,
        writes: new Map([...txn.writes].map(([key, write]) => [key, write.value])),
      })),
  );
}

const printable = (value: Uint8Array | undefined) =>
  value === undefined ? "(absent)" : Buffer.from(value).toString();

async function check(run: WorkloadRun): Promise<void> {
  const model = modelOf(run);
  for (const read of run.txns.flatMap((txn) => txn.reads)) {
    assert.equal(
      printable(read.value),
      printable(model.valueAt(read.hexKey, read.readTs)),
      `${read.txn} read key ${read.hexKey} at ${read.readTs}`,
    );
  }
  assert.deepEqual(model.writeConflicts(), [], "first committer wins");
  const stored = await readStoreHistory(run.harness.storage);
  assert.deepEqual(stored.lockedKeys, [], "locks left after resolving");
  assert.deepEqual(stored.orphanValues, [], "default-CF values no version points to");
  const history = (
    versions: ReadonlyMap<string, readonly { commitTs: bigint; value: Uint8Array | undefined }[]>,
  ) =>
    [...versions].map(
      ([key, list]) => `${key}: ${list.map((v) => `${v.commitTs}=${printable(v.value)}`).join(" ")}`,
    );
  assert.deepEqual(history(stored.versions), history(model.history()), "committed versions");
}

describe(`percolator actions under concurrent, crashing clients match snapshot isolation (SEED=${SEED})`, () => {
  it(`${RUNS} workloads of ${OPTIONS.txnCount} transactions`, async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 2 ** 31 - 1 }), async (workloadSeed) => {
        const run = await runWorkload(new SeededRandom(workloadSeed), OPTIONS);
        try {
          await check(run);
        } catch (error) {
          const trace = run.trace.slice(-TRACE_LINES).join("\n");
          throw new Error(`workload ${workloadSeed}: ${(error as Error).message}\nlast events:\n${trace}`, {
            cause: error,
          });
        }
      }),
      { seed: SEED, numRuns: RUNS, endOnFailure: true, includeErrorInReport: true },
    );
  });
});
