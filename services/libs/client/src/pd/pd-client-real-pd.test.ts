/**
 * The pd client against the real pd server, in this process (embedded backend, temp dir): timestamps
 * across concurrent clients, the metadata calls a store makes, and the errors a caller sees.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { metapb, pdpb } from "#proto";
import { pdOptionsWithDefaults, type RunningPd, startPd } from "../../../../pd/src/server/pd-server.ts";
import { unusedAddress } from "../testing/unused-address.ts";
import { PdClient } from "./pd-client.ts";
import { PdServerError, PdUnavailableError } from "./pd-errors.ts";

const CLIENTS = 8;
const CALLERS_PER_CLIENT = 16;
const ROUNDS_PER_CALLER = 25;

describe("pd client against the real pd", () => {
  const dataDir = mkdtempSync(join(tmpdir(), "tessera-pd-client-"));
  let pd: RunningPd | undefined;
  const clients: PdClient[] = [];

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
    for (let index = 0; index < CLIENTS; index++)
      clients.push(await PdClient.connect({ endpoints: [pd.clientUrl] }));
  });

  after(async () => {
    await Promise.all(clients.map((client) => client.close()));
    await pd?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  test("8 concurrent clients get unique timestamps, each caller's strictly increasing", async () => {
    const perCaller = await Promise.all(
      clients.flatMap((client) =>
        Array.from({ length: CALLERS_PER_CLIENT }, async () => {
          const own: bigint[] = [];
          for (let round = 0; round < ROUNDS_PER_CALLER; round++) own.push(await client.getTimestamp());
          return own;
        }),
      ),
    );
    const finishedBefore = perCaller
      .flat()
      .reduce((maximum, value) => (value > maximum ? value : maximum), 0n);
    const later = await clients[3]!.getTimestamp();

    for (const own of perCaller) {
      for (let index = 1; index < own.length; index++)
        assert.ok(own[index]! > own[index - 1]!, "went backwards");
    }
    const all = perCaller.flat();
    assert.equal(all.length, CLIENTS * CALLERS_PER_CLIENT * ROUNDS_PER_CALLER);
    assert.equal(new Set(all).size, all.length, "two callers received the same timestamp");
    assert.ok(later > finishedBefore, "a timestamp asked for after all others finished is not above them");
  });

  test("a store's metadata calls: bootstrap, stores, regions, split ids, GC safe point", async () => {
    const client = clients[0]!;
    const [storeId, regionId, peerId] = [
      await client.allocId(),
      await client.allocId(),
      await client.allocId(),
    ];
    const store = metapb.Store.fromPartial({ id: storeId, address: "127.0.0.1:20160" });
    const region = metapb.Region.fromPartial({
      id: regionId,
      regionEpoch: { confVer: 1n, version: 1n },
      peers: [{ id: peerId, storeId }],
    });

    assert.equal(await client.isBootstrapped(), false);
    await client.bootstrap(store, region);
    assert.equal(await client.isBootstrapped(), true);
    await assert.rejects(client.bootstrap(store, region), (error) => {
      assert.ok(error instanceof PdServerError);
      assert.equal(error.errorType, pdpb.ErrorType.ALREADY_BOOTSTRAPPED);
      return true;
    });
    assert.equal((await client.getStore(storeId))?.store.address, "127.0.0.1:20160");
    assert.equal(await client.getStore(storeId + 1000n), undefined);
    assert.deepEqual(
      (await client.getAllStores()).map((known) => known.id),
      [storeId],
    );
    assert.equal((await client.getRegion(new TextEncoder().encode("any key")))?.region.id, regionId);
    assert.equal((await client.getRegionById(regionId))?.region.id, regionId);
    assert.equal(await client.getRegionById(regionId + 1000n), undefined);
    assert.deepEqual(
      (await client.scanRegions(new Uint8Array(), new Uint8Array(), 10)).map((found) => found.region.id),
      [regionId],
    );
    const ids = await client.askBatchSplit(region, 2);
    assert.equal(ids.length, 2);
    assert.equal(new Set(ids.flatMap((split) => [split.newRegionId, ...split.newPeerIds])).size, 4);
    assert.equal(await client.updateGcSafePoint(500n), 500n);
    assert.equal(await client.updateGcSafePoint(100n), 500n);
    assert.equal(await client.getGcSafePoint(), 500n);
    const members = await client.getMembers();
    assert.equal(members.members.length, 1);
    assert.deepEqual(members.leader?.clientUrls, [`http://${pd!.clientUrl}`]);
  });

  test("an unreachable pd fails connect with the endpoint named", async () => {
    const endpoint = await unusedAddress();
    await assert.rejects(PdClient.connect({ endpoints: [endpoint], connectTimeoutMs: 1000 }), (error) => {
      assert.ok(error instanceof PdUnavailableError);
      assert.deepEqual(error.endpoints, [endpoint]);
      assert.ok(error.message.includes(endpoint), error.message);
      return true;
    });
  });
});
