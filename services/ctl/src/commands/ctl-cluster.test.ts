/**
 * The top-level commands against a real pd and one store in this process, run through `runCtl` with
 * captured output: kv put/get/scan/delete go through the storage client and the store's raft, and
 * cluster health reads pd's view of the same cluster.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { StoreCluster } from "../../../tikv-store/src/testing/cluster/store-cluster.ts";
import { runCtl } from "../ctl.ts";

interface Run {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** How long pd may take to learn the first region's leader from the store's heartbeat. */
const LEADER_KNOWN_TIMEOUT_MS = 20_000;
const POLL_INTERVAL_MS = 100;

describe("ctl against a real pd and store", () => {
  let cluster: StoreCluster | undefined;

  const ctl = async (...argv: string[]): Promise<Run> => {
    const stdout: string[] = [];
    const stderr: string[] = [];
    const exitCode = await runCtl([...argv, "--pd", cluster!.pd.httpUrl], {
      stdout: (text) => stdout.push(text),
      stderr: (text) => stderr.push(text),
    });
    return { exitCode, stdout: stdout.join("\n"), stderr: stderr.join("\n") };
  };

  before(async () => {
    cluster = await StoreCluster.start({ label: "ctl", stores: 1, transport: "grpc" });
  });

  after(async () => {
    await cluster?.close();
  });

  test("cluster health turns healthy once pd knows the first region's leader", async () => {
    const deadline = Date.now() + LEADER_KNOWN_TIMEOUT_MS;
    let health = await ctl("cluster", "health", "--json");
    while (health.exitCode !== 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, POLL_INTERVAL_MS));
      health = await ctl("cluster", "health", "--json");
    }
    assert.equal(health.exitCode, 0, health.stdout + health.stderr);
    const report = JSON.parse(health.stdout) as { healthy: boolean; stores: Array<{ health: string }> };
    assert.equal(report.healthy, true);
    assert.deepEqual(
      report.stores.map((store) => store.health),
      ["up"],
    );
  });

  test("kv put, get, scan and delete round-trip through the store", async () => {
    for (const [key, value] of [
      ["user/2", "bob"],
      ["user/1", "alice"],
      ["user/3", "carol"],
      ["zone", "eu"],
    ]) {
      const put = await ctl("kv", "put", key!, value!);
      assert.equal(put.exitCode, 0, put.stderr);
      assert.equal(put.stdout, "OK");
    }
    const get = await ctl("kv", "get", "user/1");
    const getJson = await ctl("kv", "get", "user/2", "--json");
    const scan = await ctl("kv", "scan", "--start", "user/", "--end", "user0", "--json");
    const reverse = await ctl("kv", "scan", "--reverse", "--limit", "2");
    const table = await ctl("kv", "scan", "--start", "user/3");

    assert.equal(get.exitCode, 0, get.stderr);
    assert.equal(get.stdout, "alice");
    assert.deepEqual(JSON.parse(getJson.stdout), { key: "user/2", found: true, value: "bob" });
    assert.deepEqual(JSON.parse(scan.stdout), {
      count: 3,
      pairs: [
        { key: "user/1", value: "alice" },
        { key: "user/2", value: "bob" },
        { key: "user/3", value: "carol" },
      ],
    });
    assert.match(reverse.stdout, /^KEY\s+VALUE\nzone\s+eu\nuser\/3\s+carol\n2 pairs$/);
    assert.match(table.stdout, /^KEY\s+VALUE\nuser\/3\s+carol\nzone\s+eu\n2 pairs$/);

    const deleted = await ctl("kv", "delete", "user/2", "--json");
    const missing = await ctl("kv", "get", "user/2");
    const missingJson = await ctl("kv", "get", "user/2", "--json");
    assert.deepEqual(JSON.parse(deleted.stdout), { key: "user/2", deleted: true });
    assert.equal(missing.exitCode, 1);
    assert.equal(missing.stdout, "(not found)");
    assert.equal(missingJson.exitCode, 1);
    assert.deepEqual(JSON.parse(missingJson.stdout), { key: "user/2", found: false });
  });

  test("hex keys and values carry bytes that are not text", async () => {
    const put = await ctl("kv", "put", "00ff01", "c3", "--key-format", "hex", "--value-format", "hex");
    const asHex = await ctl("kv", "get", "00ff01", "--key-format", "hex", "--value-format", "hex", "--json");
    const asText = await ctl("kv", "get", "00ff01", "--key-format", "hex");
    const region = await ctl("region", "key", "00ff01", "--key-format", "hex", "--json");

    assert.equal(put.exitCode, 0, put.stderr);
    assert.deepEqual(JSON.parse(asHex.stdout), { key: "00ff01", found: true, value: "c3" });
    assert.equal(asText.exitCode, 1);
    assert.equal(asText.stderr, "ctl: c3 is not valid UTF-8; rerun with --value-format hex");
    assert.equal(region.exitCode, 0, region.stderr);
    assert.equal((JSON.parse(region.stdout) as { start_key: string }).start_key, "");
  });

  test("store list shows the one store up; tso answers", async () => {
    const stores = await ctl("store", "list");
    const tso = await ctl("tso", "--json");

    assert.equal(stores.exitCode, 0, stores.stderr);
    assert.match(stores.stdout, /\n\s*\d+\s+127\.0\.0\.1:\d+\s+up\s/);
    assert.equal(tso.exitCode, 0, tso.stderr);
    assert.ok(BigInt((JSON.parse(tso.stdout) as { timestamp: string }).timestamp) > 0n);
  });
});
