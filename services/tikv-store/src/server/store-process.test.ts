/**
 * Stores as real processes (what `npm run store` runs) with a real pd: SIGTERM is a graceful shutdown
 * that moves the store's leaders to other stores before the process exits 0.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { PdClient } from "#client";
import type { kvrpcpb } from "#proto";
import type { RunningPd } from "../../../pd/src/server/pd-server.ts";
import { startTestPd } from "../testing/in-process-pd.ts";
import { RawRpcClient } from "../testing/raw-rpc-client.ts";
import { type StoreProcess, spawnStore } from "../testing/store-process.ts";

const STORE_FLAGS = [
  "--pd.store-heartbeat-interval",
  "500ms",
  "--pd.region-heartbeat-interval",
  "1s",
  "--shutdown.leader-transfer-timeout",
  "5s",
];

describe("store processes", () => {
  const root = mkdtempSync(join(tmpdir(), "tessera-store-process-"));
  let pd: RunningPd;
  let pdClient: PdClient;
  let client: RawRpcClient;
  const stores: StoreProcess[] = [];

  before(async () => {
    pd = await startTestPd(join(root, "pd"));
    pdClient = await PdClient.connect({ endpoints: [pd.clientUrl] });
    client = new RawRpcClient(pdClient);
    for (let index = 0; index < 3; index++) {
      stores.push(
        await spawnStore({
          dataDir: join(root, `store-${index}`),
          pdEndpoint: pd.clientUrl,
          extraArgs: STORE_FLAGS,
        }),
      );
    }
    await client.waitForReplicas(new Uint8Array(), 3);
  });

  after(async () => {
    await Promise.all(stores.map((store) => store.kill("SIGKILL")));
    client?.close();
    await pdClient?.close();
    await pd?.close();
    rmSync(root, { recursive: true, force: true });
  });

  test("SIGTERM moves the leader away, exits 0, and the data stays readable", async () => {
    const key = Buffer.from("k");
    await client.raw<kvrpcpb.RawPutResponse>(key, (tikv, context, done) =>
      tikv.rawPut({ context, key, value: Buffer.from("v") }, done),
    );
    const leaderStoreId = (await pdClient.getRegion(key))?.leader?.storeId;
    const leader = stores.find((store) => store.storeId === leaderStoreId)!;

    const exitCode = await leader.kill("SIGTERM");

    assert.equal(exitCode, 0, leader.output());
    assert.match(leader.output(), /"leadersLeft":0,"msg":"leader transfer finished; stopping"/);
    const got = await client.raw<kvrpcpb.RawGetResponse>(key, (tikv, context, done) =>
      tikv.rawGet({ context, key }, done),
    );
    assert.equal(Buffer.from(got.value).toString(), "v");
    const newLeader = (await pdClient.getRegion(key))?.leader?.storeId;
    assert.notEqual(newLeader, leaderStoreId);
  });
});

describe("npm run store", () => {
  test("--help prints every setting with its default and exits 0", async () => {
    const child = spawn("npm", ["run", "--silent", "store", "--", "--help"], {
      cwd: join(import.meta.dirname, "..", "..", "..", ".."),
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      output += chunk;
    });
    const exitCode = await new Promise<number | null>((resolve) => child.once("exit", resolve));
    assert.equal(exitCode, 0);
    for (const setting of [
      "--server.addr",
      "--pd.endpoints",
      "--raftstore.region-split-size",
      "--shutdown.deadline",
    ]) {
      assert.ok(output.includes(setting), `--help does not mention ${setting}`);
    }
    assert.match(output, /default "8KiB"/);
  });

  test("a reconnect backoff whose base exceeds its maximum is refused at startup, naming the settings", async (t) => {
    const dataDir = mkdtempSync(join(tmpdir(), "tessera-store-refused-"));
    t.after(() => rmSync(dataDir, { recursive: true, force: true }));
    const child = spawn(
      "npm",
      [
        ...["run", "--silent", "store", "--", "--data-dir", dataDir],
        ...["--server.raft-reconnect-backoff-base", "5s", "--server.raft-reconnect-backoff-max", "1s"],
      ],
      { cwd: join(import.meta.dirname, "..", "..", "..", ".."), stdio: ["ignore", "pipe", "pipe"] },
    );
    let errors = "";
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
      errors += chunk;
    });
    const exitCode = await new Promise<number | null>((resolve) => child.once("exit", resolve));
    assert.notEqual(exitCode, 0);
    assert.match(
      errors,
      /server\.raft-reconnect-backoff-base \(5000 ms\) must be above 0 and at most server\.raft-reconnect-backoff-max \(1000 ms\)/,
    );
  });
});
