/**
 * Checks of a StoreCluster's state from inside the stores: what a store's engine holds, whether a removed
 * peer left nothing behind, and whether every replica agrees with its leader (region meta and data).
 */
import assert from "node:assert/strict";
import { metapb, raft_serverpb } from "#proto";
import type { StoreCluster } from "./store-cluster.ts";

/** Waits until store `index` holds `key` = `value` in its engine (`undefined`: holds no such key). */
export async function waitEngineValue(
  cluster: StoreCluster,
  index: number,
  key: string,
  value: string | undefined,
): Promise<void> {
  await cluster.waitFor(
    `store ${index} to hold ${key} = ${value ?? "(nothing)"}`,
    async () => (await cluster.engineGet(index, key)) === value,
  );
}

/** Waits until store `index` destroyed its peer of `regionId`: tombstone written, raft log and state gone. */
export async function waitPeerGone(cluster: StoreCluster, index: number, regionId: bigint): Promise<void> {
  await cluster.waitFor(`store ${index} to destroy its peer of region ${regionId}`, () =>
    cluster
      .store(index)
      .peers()
      .every((peer) => peer.regionId !== regionId),
  );
  const { kvEngine, raftLogStore } = cluster.store(index).engines;
  const persisted = (await kvEngine.loadRegions()).find((region) => region.regionId === regionId);
  assert.equal(
    persisted?.regionState.state,
    raft_serverpb.PeerState.TOMBSTONE,
    `store ${index} left no tombstone`,
  );
  assert.equal(persisted?.applyState, undefined, `store ${index} kept the apply state of a destroyed peer`);
  assert.equal(await raftLogStore.raftState(regionId), undefined, `store ${index} kept the raft state`);
  assert.equal(
    await raftLogStore.firstStoredIndex(regionId),
    undefined,
    `store ${index} kept raft log entries`,
  );
}

/**
 * Once the cluster is quiet, every replica of every region holds its leader's region meta (epoch, range,
 * peers) and exactly its leader's data: the applied state machines agree.
 */
export async function checkReplicasConverge(cluster: StoreCluster, timeoutMs?: number): Promise<void> {
  await cluster.waitFor(
    "every replica to hold its leader's region meta and data",
    async () => {
      for (const region of await cluster.regions()) await checkRegionReplicas(cluster, region.id);
      return true;
    },
    timeoutMs,
  );
}

async function checkRegionReplicas(cluster: StoreCluster, regionId: bigint): Promise<void> {
  const leader = cluster.leaderOfRegion(regionId);
  if (leader === undefined) throw new Error(`region ${regionId} has no leader`);
  const expectedData = await localData(cluster, leader.index, regionId);
  for (const peer of leader.region.peers) {
    const index = cluster.indexOf(peer.storeId);
    const where: string = `region ${regionId} on store ${index} (leader on store ${leader.index})`;
    const region = cluster.store(index).region(regionId);
    if (region === undefined) throw new Error(`${where} is missing or uninitialized`);
    if (encodedRegion(region) !== encodedRegion(leader.region)) {
      throw new Error(`${where}: region meta differs`);
    }
    if ((await localData(cluster, index, regionId)) !== expectedData)
      throw new Error(`${where}: data differs`);
  }
}

async function localData(cluster: StoreCluster, index: number, regionId: bigint): Promise<string> {
  const pairs = await cluster
    .store(index)
    .readLocal(regionId, (reader) =>
      reader.scan({ startKey: reader.region.startKey, endKey: reader.region.endKey, limit: 100_000 }),
    );
  return pairs
    .map(({ key, value }) => `${Buffer.from(key).toString("hex")}=${Buffer.from(value).toString("hex")}`)
    .join(",");
}

function encodedRegion(region: metapb.Region): string {
  return Buffer.from(metapb.Region.encode(region).finish()).toString("hex");
}
