import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { after, describe, it } from "node:test";
import { Etcd3 } from "etcd3";
import { startEtcdCluster } from "./etcd-cluster.ts";

async function withClient<T>(endpoints: string[], action: (client: Etcd3) => Promise<T>): Promise<T> {
  const client = new Etcd3({ hosts: endpoints, dialTimeout: 2_000 });
  try {
    return await action(client);
  } finally {
    client.close();
  }
}

describe("startEtcdCluster", () => {
  it("starts a single member that serves reads and writes, and cleans up on stop", async () => {
    const etcd = await startEtcdCluster({ members: 1 });
    after(() => etcd.stop());
    assert.equal(etcd.endpoints.length, 1);
    assert.match(etcd.endpoints[0]!, /^http:\/\/127\.0\.0\.1:\d+$/);
    await withClient(etcd.endpoints, async (client) => {
      await client.put("greeting").value("hello");
      assert.equal(await client.get("greeting").string(), "hello");
    });
    const dataDir = etcd.members[0]!.dataDir;
    assert.ok(existsSync(dataDir));
    await etcd.stop();
    assert.equal(etcd.members[0]!.running, false);
    assert.equal(existsSync(dataDir), false);
  });

  it("runs three members that keep data through the crash and restart of one", async () => {
    const etcd = await startEtcdCluster({ members: 3 });
    after(() => etcd.stop());
    assert.equal(new Set(etcd.endpoints).size, 3);
    await withClient(etcd.endpoints, async (client) => {
      await client.put("before-crash").value("1");
    });

    await etcd.kill(0);
    assert.equal(etcd.members[0]!.running, false);
    // The two survivors still form a quorum.
    await withClient(etcd.endpoints.slice(1), async (client) => {
      await client.put("during-crash").value("2");
    });

    await etcd.restart(0);
    assert.equal(etcd.members[0]!.running, true);
    await withClient([etcd.endpoints[0]!], async (client) => {
      assert.equal(await client.get("before-crash").string(), "1");
      assert.equal(await client.get("during-crash").string(), "2");
    });
  });
});
