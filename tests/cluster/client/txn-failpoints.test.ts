/**
 * A committing client killed between the steps of its commit (a failpoint hangs it there, then the client
 * is closed, as a process that died would never come back): other clients' reads resolve what it left, and
 * see the transaction committed exactly when its commit point was passed — the primary's commit for 2PC,
 * the last prewrite for async commit — and not at all otherwise; a later writer gets past every lock it
 * left, and none remains.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { TxnClient } from "#client";
import { Failpoints } from "#runtime";
import { StoreCluster } from "../../../services/tikv-store/src/testing/cluster/store-cluster.ts";
import { TxnRpc } from "../../../services/tikv-store/src/testing/txn-rpc.ts";

const bytes = (text: string) => new TextEncoder().encode(text);
const text = (value: Uint8Array | undefined) =>
  value === undefined ? undefined : new TextDecoder().decode(value);

const CASES = [
  { failpoint: "txn.before-prewrite", asyncCommit: false, committed: false },
  { failpoint: "txn.after-prewrite", asyncCommit: false, committed: false },
  { failpoint: "txn.after-commit-primary", asyncCommit: false, committed: true },
  { failpoint: "txn.after-prewrite", asyncCommit: true, committed: true },
] as const;

describe("a committing client killed at each failpoint", () => {
  let cluster: StoreCluster;
  let reader: TxnClient;
  let rpc: TxnRpc;

  before(async () => {
    cluster = await StoreCluster.start({ label: "txn failpoints", stores: 3, transport: "grpc" });
    await cluster.split(bytes("m"));
    reader = await TxnClient.connect({ pdEndpoints: [cluster.pd.clientUrl], requestTimeoutMs: 2_000 });
    rpc = new TxnRpc(cluster);
  });

  after(async () => {
    rpc?.close();
    await reader?.close();
    await cluster?.close();
  });

  for (const [index, { failpoint, asyncCommit, committed }] of CASES.entries()) {
    test(`${failpoint}${asyncCommit ? " (async commit)" : ""}: ${committed ? "committed" : "rolled back"}`, async () => {
      const [left, right] = [bytes(`f${index}-a`), bytes(`z-f${index}`)];
      const setup = await reader.begin();
      setup.set(left, bytes("old"));
      setup.set(right, bytes("old"));
      await setup.commit();
      await reader.drain();

      const failpoints = new Failpoints();
      failpoints.arm(failpoint, { kind: "hang" });
      const doomed = await TxnClient.connect({
        pdEndpoints: [cluster.pd.clientUrl],
        requestTimeoutMs: 2_000,
        enableOnePc: false,
        enableAsyncCommit: asyncCommit,
        failpoints,
      });
      const txn = await doomed.begin();
      txn.set(left, bytes("new"));
      txn.set(right, bytes("new"));
      const committing = txn.commit();
      const outcome = committing.then(
        () => "returned",
        (error: unknown) => (error as Error).name,
      );
      await cluster.waitFor(
        `the commit to reach ${failpoint}`,
        async () => failpoints.hitCount(failpoint) === 1,
      );
      await doomed.close();
      assert.notEqual(await outcome, "returned", "the killed client never saw its commit finish");

      const expected = committed ? "new" : "old";
      const snapshot = await reader.snapshot();
      assert.equal(text(await snapshot.get(right)), expected, "the secondary");
      assert.equal(text(await snapshot.get(left)), expected, "the primary");
      // A writer gets past whatever locks are left (a live-looking one only once its TTL ran out).
      const writer = await reader.begin();
      writer.set(left, bytes("after"));
      writer.set(right, bytes("after"));
      await writer.commit();
      await reader.drain();
      const later = await reader.snapshot();
      assert.deepEqual([text(await later.get(left)), text(await later.get(right))], ["after", "after"]);
      const maxTs = await cluster.pdClient.getTimestamp();
      assert.deepEqual(await rpc.scanLocks(left, maxTs), [], "no lock left on the primary");
      assert.deepEqual(await rpc.scanLocks(right, maxTs), [], "no lock left on the secondary");
    });
  }
});
