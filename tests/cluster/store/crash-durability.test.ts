/**
 * Crash durability with real processes: pd and three stores run as child processes (`node --import tsx
 * .../main.ts`, as an operator runs them), concurrent clients write while stores — the leader's store
 * included — are killed with SIGKILL and started again on their data directories. Afterwards:
 * - every acknowledged write reads back exactly (append-workload.ts);
 * - each restarted store rejoined and caught up: a follower read of every region on every store returns
 *   exactly what the region's leader returns;
 * - with every store killed at once, each data directory's region meta and raft state are consistent
 *   (engine-consistency.ts), and the cluster started again still holds every acknowledged write.
 *
 * The seed printed at the start picks the victims and the clients' keys; `SEED=n` replays those choices.
 */
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { RawKvClient } from "#client";
import type { metapb } from "#proto";
import { type Random, SeededRandom, sleep } from "#runtime";
import { resolveSeed } from "#sim";
import { StoreClients, scanRegion } from "../../../services/tikv-store/src/testing/raw-rpc.ts";
import { AppendWorkload } from "./append-workload.ts";
import { inspectEngines } from "./engine-consistency.ts";
import {
  eventually,
  ProcessCluster,
  RECOVERY_MS,
  STORES,
  waitForFullReplication,
} from "./process-cluster.ts";

const KILLS = 4;
const CLIENTS = 4;
const KEYS_PER_CLIENT = 25;

// A guard against a hung cluster (it fails instead of blocking the suite), not a speed assertion.
describe("crash durability with real store processes", { timeout: 4 * 60_000 }, () => {
  const seed = resolveSeed("crash durability");
  const random: Random = new SeededRandom(seed);
  const cluster = new ProcessCluster(mkdtempSync(join(tmpdir(), "tessera-crash-durability-")));
  const rpc = new StoreClients();
  let client: RawKvClient | undefined;
  let workload: AppendWorkload;
  const kills: string[] = [];

  before(async () => {
    await cluster.start();
    await waitForFullReplication(cluster);
    client = await RawKvClient.connect({
      pdEndpoints: [cluster.pd.clientUrl],
      requestTimeoutMs: 2_000,
      backoffBudgetMs: 10_000,
    });
    workload = new AppendWorkload(client, {
      label: "crash",
      clients: CLIENTS,
      keysPerClient: KEYS_PER_CLIENT,
      valuePaddingBytes: 48,
      random: random.fork(),
    });
  });

  after(async () => {
    await client?.close();
    rpc.close();
    await cluster.close();
  });

  it("keeps every acknowledged write while stores, leaders included, are killed with SIGKILL and restarted", async () => {
    workload.start();
    for (let round = 0; round < KILLS; round++) {
      await sleep(random.intBetween(1_000, 2_000));
      const leader = round % 2 === 0 ? await leaderStoreOfSomeKey(cluster, random) : undefined;
      const victim = leader?.index ?? random.intBelow(STORES);
      await cluster.kill(victim);
      kills.push(
        leader === undefined ? `store ${victim}` : `store ${victim} (leader of region ${leader.regionId})`,
      );
      await sleep(random.intBetween(300, 1_000));
      await cluster.spawn(victim);
    }
    await workload.stop(RECOVERY_MS);
    await workload.verify();
    assert.deepEqual(workload.violations, [], `seed ${seed}: ${workload.describeStats()}`);
    assert.ok(workload.stats.writesAcknowledged > 0, "no write was acknowledged");
    const { longestWriteErrors } = workload.stats;
    console.log(
      `[crash] seed ${seed}: killed ${kills.join(", ")}; ${workload.describeStats()}` +
        (longestWriteErrors === "" ? "" : `; the longest write failed with: ${longestWriteErrors}`),
    );
  });

  it("a restarted store caught up: each region read on each store (follower reads) equals its leader's", async () => {
    const regions = await cluster.pdClient.scanRegions(new Uint8Array(), new Uint8Array(), 0);
    assert.ok(regions.length > 1, "the workload should have split the key space");
    for (const { region } of regions) {
      await eventually(`every replica of region ${region.id} to read like its leader`, () =>
        replicasReadAlike(cluster, rpc, region.id),
      );
    }
  });

  it("after SIGKILL of every store the engines are consistent, and the restarted cluster has every write", async () => {
    const pdRegions = new Map(
      (await cluster.pdClient.scanRegions(new Uint8Array(), new Uint8Array(), 0)).map(({ region }) => [
        region.id,
        region,
      ]),
    );
    const storeIds = cluster.stores.map((store) => store!.storeId);
    for (let index = 0; index < STORES; index++) await cluster.kill(index);
    const problems: string[] = [];
    for (let index = 0; index < STORES; index++) {
      const inspection = await inspectEngines({
        dataDir: cluster.dataDirs[index]!,
        storeId: storeIds[index]!,
        pdRegion: (regionId) => pdRegions.get(regionId),
      });
      assert.ok(inspection.normal > 0, `store ${index} holds no live region`);
      problems.push(...inspection.problems);
    }
    assert.deepEqual(problems, [], `seed ${seed}`);

    await Promise.all(cluster.dataDirs.map((_, index) => cluster.spawn(index)));
    await eventually("every acknowledged write to read back after the restart", async () => {
      await workload.verify();
      return true;
    });
    assert.deepEqual(workload.violations, [], `seed ${seed}`);
  });
});

/** The store leading the region of one of the clients' keys (the busiest kind of victim), if pd knows it. */
async function leaderStoreOfSomeKey(
  cluster: ProcessCluster,
  random: Random,
): Promise<{ readonly index: number; readonly regionId: bigint } | undefined> {
  const key = new TextEncoder().encode(
    `crash/c0${random.intBelow(CLIENTS)}/k${String(random.intBelow(KEYS_PER_CLIENT)).padStart(4, "0")}`,
  );
  const found = await cluster.pdClient.getRegion(key);
  const leader = found?.leader?.storeId;
  return leader === undefined ? undefined : { index: cluster.indexOf(leader), regionId: found!.region.id };
}

/**
 * Reads region `regionId` on its leader and, with follower reads, on every other replica; returns true
 * when all answer the same pairs. A follower read waits until the follower applied up to the leader's
 * commit index, so equal answers mean the follower's local state machine matches the leader's.
 */
async function replicasReadAlike(
  cluster: ProcessCluster,
  rpc: StoreClients,
  regionId: bigint,
): Promise<true | undefined> {
  const found = await cluster.pdClient.getRegionById(regionId);
  if (found?.leader === undefined) throw new Error(`pd knows no leader of region ${regionId}`);
  const read = async (peer: metapb.Peer, replicaRead: boolean): Promise<string> => {
    const store = cluster.stores[cluster.indexOf(peer.storeId)]!;
    const response = await scanRegion(rpc.for(store.address), found.region, peer, {
      replicaRead,
      limit: 10_000,
    });
    if (response.regionError !== undefined)
      throw new Error(`store ${peer.storeId}: ${response.regionError.message}`);
    return response.kvs
      .map(({ key, value }) => `${Buffer.from(key).toString("hex")}=${Buffer.from(value).toString("hex")}`)
      .join(",");
  };
  const expected = await read(found.leader, false);
  for (const peer of found.region.peers) {
    if (peer.id === found.leader.id) continue;
    const actual = await read(peer, true);
    if (actual !== expected)
      throw new Error(`region ${regionId} on store ${peer.storeId} differs from its leader`);
  }
  return true;
}
