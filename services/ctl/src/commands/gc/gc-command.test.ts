/**
 * `ctl gc` against a real pd and stores over gRPC: status before and after a round, a round that drops
 * old versions, and bad arguments.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { physicalMsOf } from "#codec";
import { kvrpcpb } from "#proto";
import { bytes } from "../../../../tikv-store/src/testing/bytes.ts";
import { StoreCluster } from "../../../../tikv-store/src/testing/cluster/store-cluster.ts";
import { TxnRpc } from "../../../../tikv-store/src/testing/txn-rpc.ts";
import { runCtl } from "../../ctl.ts";

interface Run {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
}

describe("ctl gc", () => {
  let cluster: StoreCluster | undefined;
  let rpc: TxnRpc | undefined;

  before(async () => {
    cluster = await StoreCluster.start({ label: "ctl gc", stores: 1, transport: "grpc" });
    rpc = new TxnRpc(cluster);
  });

  after(async () => {
    rpc?.close();
    await cluster?.close();
  });

  const ctl = async (...argv: string[]): Promise<Run> => {
    const stdout: string[] = [];
    const stderr: string[] = [];
    const exitCode = await runCtl([...argv, "--pd", cluster!.pd.httpUrl], {
      stdout: (text) => stdout.push(text),
      stderr: (text) => stderr.push(text),
    });
    return { exitCode, stdout: stdout.join("\n"), stderr: stderr.join("\n") };
  };

  test("status, then a run that keeps only the newest version, then status again", async () => {
    const before = await ctl("gc", "status", "--json");
    assert.equal(before.exitCode, 0, before.stderr);
    assert.equal(JSON.parse(before.stdout).safe_point, "0");
    for (const value of ["1", "2"]) {
      const startTs = await cluster!.pdClient.getTimestamp();
      const put = { op: kvrpcpb.Op.PUT, key: bytes("ctl-gc"), value: bytes(value) };
      assert.deepEqual(await rpc!.prewrite([put], bytes("ctl-gc"), startTs), []);
      assert.equal(
        await rpc!.commit([bytes("ctl-gc")], startTs, await cluster!.pdClient.getTimestamp()),
        undefined,
      );
    }
    // The safe point is "now" to the TSO's millisecond (pd moves its physical clock in steps).
    const lastWrite = await cluster!.pdClient.getTimestamp();
    await cluster!.waitFor(
      "the TSO's physical clock to pass the writes",
      async () => physicalMsOf(await cluster!.pdClient.getTimestamp()) > physicalMsOf(lastWrite),
    );
    const run = await ctl("gc", "run", "--life-time", "0s");
    assert.equal(run.exitCode, 0, run.stderr);
    assert.match(run.stdout, /locks resolved, [1-9]\d* regions collected/);
    assert.equal((await rpc!.mvcc(bytes("ctl-gc"))).writes.length, 1);
    const after = await ctl("gc", "status");
    assert.match(after.stdout, /safe point {2}[1-9]\d* \(20/);
    assert.match(after.stdout, /gc leader {3}ctl-\d+, lease until/);
  });

  test("bad arguments are usage errors", async () => {
    assert.equal((await ctl("gc")).exitCode, 2);
    assert.equal((await ctl("gc", "collect")).exitCode, 2);
    assert.equal((await ctl("gc", "run", "--life-time", "soon")).exitCode, 2);
    assert.equal((await ctl("gc", "status", "--life-time", "1m")).exitCode, 2);
  });
});
