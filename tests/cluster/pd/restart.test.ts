/**
 * A single pd on the embedded backend, restarted as a real process: ids, timestamps, the cluster id and
 * cluster metadata must all survive both a crash (SIGKILL) and a graceful stop (SIGTERM).
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { metapb } from "#proto";
import { PdTestClient } from "../../../services/pd/src/testing/pd-test-client.ts";
import { timestampFromProto } from "../../../services/pd/src/tso/timestamp.ts";
import { type PdProcess, spawnPd } from "./pd-process.ts";

function peer(id: bigint, storeId: bigint): metapb.Peer {
  return { id, storeId, role: metapb.PeerRole.VOTER };
}

describe("pd restarts (embedded backend, real processes)", () => {
  const dataDir = mkdtempSync(join(tmpdir(), "tessera-pd-restart-"));
  const running: PdProcess[] = [];
  const clients: PdTestClient[] = [];

  async function start(): Promise<{ pd: PdProcess; client: PdTestClient }> {
    const pd = await spawnPd({ name: "pd-restart", dataDir });
    running.push(pd);
    const client = await new PdTestClient(pd.clientUrl).connect();
    clients.push(client);
    return { pd, client };
  }

  after(async () => {
    for (const client of clients) client.close();
    await Promise.all(running.map((pd) => pd.kill("SIGKILL")));
    rmSync(dataDir, { recursive: true, force: true });
  });

  it("keeps ids unique, timestamps increasing and metadata across a crash and a graceful restart", async () => {
    const seenIds = new Set<bigint>();
    const takeIds = async (client: PdTestClient, count: number): Promise<bigint[]> => {
      const ids = await Promise.all(
        Array.from({ length: count }, () => client.unary("allocId", { header: client.header() })),
      );
      return ids.map((response) => {
        assert.equal(response.header?.error, undefined);
        assert.ok(!seenIds.has(response.id), `id ${response.id} handed out twice`);
        seenIds.add(response.id);
        return response.id;
      });
    };
    const timestamp = async (client: PdTestClient): Promise<bigint> => {
      const stream = client.tsoStream();
      const response = await stream.request({ header: client.header(), count: 1 });
      stream.close();
      assert.equal(response.header?.error, undefined);
      return timestampFromProto(response.timestamp!);
    };

    const first = await start();
    const [storeId, regionId, peerId] = await takeIds(first.client, 3);
    const header = first.client.header();
    const bootstrap = await first.client.unary("bootstrap", {
      header,
      store: metapb.Store.fromPartial({ id: storeId!, address: "127.0.0.1:20160" }),
      region: metapb.Region.fromPartial({
        id: regionId!,
        regionEpoch: { version: 1n, confVer: 1n },
        peers: [peer(peerId!, storeId!)],
      }),
    });
    assert.equal(bootstrap.header?.error, undefined);
    await takeIds(first.client, 1500);
    const beforeCrash = await timestamp(first.client);

    assert.equal(await first.pd.kill("SIGKILL"), null);
    const second = await start();
    assert.equal(second.pd.clusterId, first.pd.clusterId);
    await takeIds(second.client, 200);
    const afterCrash = await timestamp(second.client);
    assert.ok(
      afterCrash > beforeCrash,
      `timestamp ${afterCrash} after the crash is not above ${beforeCrash}`,
    );
    const region = await second.client.unary("getRegionById", { header, regionId: regionId! });
    assert.deepEqual(region.region?.peers, [peer(peerId!, storeId!)]);

    assert.equal(await second.pd.kill("SIGTERM"), 0, `graceful stop failed:\n${second.pd.output()}`);
    const third = await start();
    await takeIds(third.client, 200);
    assert.ok((await timestamp(third.client)) > afterCrash);
    const stores = await third.client.unary("getAllStores", { header, excludeTombstoneStores: false });
    assert.deepEqual(
      stores.stores.map((store) => store.id),
      [storeId],
    );
    assert.equal((await third.client.unary("isBootstrapped", { header })).bootstrapped, true);
    assert.equal(seenIds.size, 3 + 1500 + 200 + 200);
  });
});
