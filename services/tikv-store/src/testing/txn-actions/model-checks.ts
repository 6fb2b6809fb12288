/**
 * The model-based test's verdict on one workload, the same whichever store ran it: snapshot isolation
 * over the transactions that reached their commit point.
 *   - every read a transaction made equals the model's value at its start_ts;
 *   - no two committed transactions wrote a common key while both ran (first committer wins);
 *   - once all locks are resolved, every key's committed versions are exactly the model's, no lock is
 *     left and no value in the default column family is orphaned.
 * withTrace names a failed workload and quotes its last events, the trace that explains the failure.
 */
import assert from "node:assert/strict";
import type { WorkloadRun } from "./percolator-workload.ts";
import { SnapshotIsolationModel } from "./snapshot-isolation-model.ts";
import { describeVersions, printable, type StoreHistory } from "./store-history.ts";

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

/** `error` (a client's or the checks') with the workload's name and the end of its trace. */
export function withTrace(workload: string, trace: readonly string[], error: unknown): Error {
  const message = error instanceof Error ? error.message : String(error);
  const events = trace.slice(-TRACE_LINES).join("\n");
  return new Error(`workload ${workload}: ${message}\nlast events:\n${events}`, { cause: error });
}

/** Throws the first way `run`, and what the store holds of its keys once it ended, break the model. */
export function checkRun(run: WorkloadRun, stored: StoreHistory): void {
  const model = modelOf(run);
  for (const read of run.txns.flatMap((txn) => txn.reads)) {
    assert.equal(
      printable(read.value),
      printable(model.valueAt(read.hexKey, read.readTs)),
      `${read.txn} read key ${read.hexKey} at ${read.readTs}`,
    );
  }
  assert.deepEqual(model.writeConflicts(), [], "first committer wins");
  assert.deepEqual(stored.lockedKeys, [], "locks left after resolving");
  assert.deepEqual(stored.orphanValues, [], "default-CF values no version points to");
  assert.deepEqual(
    describeVersions(stored.versions),
    describeVersions(model.history()),
    "committed versions",
  );
}
