/** ctl against a real pd in this process (embedded backend, temp dir), seeded like a one-store cluster. */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { PdClient } from "#client";
import { metapb, pdpb } from "#proto";
import { pdOptionsWithDefaults, type RunningPd, startPd } from "../../pd/src/server/pd-server.ts";
import { runCtl } from "./ctl.ts";

interface Run {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
}

describe("ctl pd against a real pd", () => {
  const dataDir = mkdtempSync(join(tmpdir(), "tessera-ctl-"));
  let pd: RunningPd | undefined;
  let storeId = 0n;
  let regionId = 0n;

  const ctl = async (...argv: string[]): Promise<Run> => {
    const stdout: string[] = [];
    const stderr: string[] = [];
    const exitCode = await runCtl([...argv, "--pd", pd!.httpUrl], {
      stdout: (text) => stdout.push(text),
      stderr: (text) => stderr.push(text),
    });
    return { exitCode, stdout: stdout.join("\n"), stderr: stderr.join("\n") };
  };

  before(async () => {
    pd = await startPd(
      pdOptionsWithDefaults({
        dataDir,
        listenHost: "127.0.0.1",
        clientPort: 0,
        httpPort: 0,
        logLevel: "silent",
      }),
    );
    const client = await PdClient.connect({ endpoints: [pd.clientUrl] });
    try {
      [storeId, regionId] = [await client.allocId(), await client.allocId()];
      const peer = { id: await client.allocId(), storeId, role: metapb.PeerRole.VOTER };
      const region = metapb.Region.fromPartial({
        id: regionId,
        regionEpoch: { confVer: 1n, version: 1n },
        peers: [peer],
      });
      await client.bootstrap(metapb.Store.fromPartial({ id: storeId, address: "127.0.0.1:20160" }), region);
      await client.storeHeartbeat(
        pdpb.StoreStats.fromPartial({ storeId, capacity: 1n << 30n, available: 1n << 29n }),
      );
    } finally {
      await client.close();
    }
  });

  after(async () => {
    await pd?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  test("store list and show", async () => {
    const list = await ctl("pd", "store");
    const show = await ctl("pd", "store", "show", String(storeId));

    assert.equal(list.exitCode, 0, list.stderr);
    assert.match(list.stdout, new RegExp(`\\n\\s*${storeId}\\s+127\\.0\\.0\\.1:20160\\s+up`));
    assert.match(show.stdout, /available\s+512\.0 MiB/);
  });

  test("region by key and list, as tables and JSON", async () => {
    const byKey = await ctl("pd", "region", "key", "any key");
    const list = await ctl("pd", "region", "list", "--json");

    assert.equal(byKey.exitCode, 0, byKey.stderr);
    assert.match(byKey.stdout, new RegExp(`^id\\s+${regionId}$`, "m"));
    const body = JSON.parse(list.stdout) as { regions: Array<{ id: string }> };
    assert.deepEqual(
      body.regions.map((region) => region.id),
      [String(regionId)],
    );
  });

  test("member, health and tso", async () => {
    const member = await ctl("pd", "member");
    const health = await ctl("pd", "health");
    const tso = await ctl("pd", "tso", "--json");

    assert.match(member.stdout, /\npd\s+\d+\s+yes\s+http:\/\/127\.0\.0\.1:\d+/);
    assert.match(health.stdout, /\npd\s+healthy/);
    assert.equal(tso.exitCode, 0, tso.stderr);
    const timestamp = JSON.parse(tso.stdout) as { timestamp: string; physical_ms: string };
    assert.equal(BigInt(timestamp.timestamp) >> 18n, BigInt(timestamp.physical_ms));
  });

  test("scheduler pause shows in the list", async () => {
    const pause = await ctl("pd", "scheduler", "pause", "balance-leader-scheduler", "60");
    const list = await ctl("pd", "scheduler", "list", "--json");

    assert.equal(pause.exitCode, 0, pause.stderr);
    const schedulers = (JSON.parse(list.stdout) as { schedulers: Array<{ name: string; paused: boolean }> })
      .schedulers;
    assert.equal(schedulers.find((scheduler) => scheduler.name === "balance-leader-scheduler")?.paused, true);
  });

  test("pd refusing a request or naming an unknown object exits 1 with pd's reason", async () => {
    const unknownStore = await ctl("pd", "store", "show", "999999");
    const badOperator = await ctl("pd", "operator", "add", "remove-peer", String(regionId), "999999");
    const operators = await ctl("pd", "operator");

    assert.equal(unknownStore.exitCode, 1);
    assert.match(unknownStore.stderr, /404 .*store 999999 not found/);
    assert.equal(badOperator.exitCode, 1);
    assert.match(badOperator.stderr, /pd answered 4\d\d to POST .*\/pd\/api\/v1\/operators: /);
    assert.equal(operators.exitCode, 0, operators.stderr);
    assert.match(operators.stdout, /^running:/);
  });
});
