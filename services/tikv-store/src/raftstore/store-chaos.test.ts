/**
 * Concurrent clients against five stores while a nemesis changes membership, splits regions, moves
 * leaders, partitions stores and drops messages. Every client owns its keys and writes increasing
 * sequence numbers, so a read must return a value at least as new as the last acknowledged write and no
 * newer than the last attempted one.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { metapb } from "#proto";
import { type Random, SeededRandom, sleep, systemClock } from "#runtime";
import { bytes } from "../testing/bytes.ts";
import { StoreCluster } from "../testing/cluster/store-cluster.ts";
import { dropRandomly } from "../testing/transport-filters.ts";
import { findPeerOnStore, isLearner } from "./region-meta.ts";

const SEED = Number(process.env.SEED ?? 20240611);
const DURATION_MS = 6_000;
const CLIENTS = 4;
const KEYS_PER_CLIENT = 4;
const MAX_SPLITS = 3;

interface KeyHistory {
  acknowledged: number;
  attempted: number;
}

async function runClient(
  cluster: StoreCluster,
  client: number,
  until: number,
  histories: Map<string, KeyHistory>,
  random: Random,
): Promise<number> {
  let sequence = 0;
  let operations = 0;
  while (systemClock.monotonicMs() < until) {
    const key = `client-${client}-key-${random.intBelow(KEYS_PER_CLIENT)}`;
    const history = histories.get(key) ?? { acknowledged: -1, attempted: -1 };
    histories.set(key, history);
    if (random.chance(0.5)) {
      sequence++;
      history.attempted = sequence;
      await cluster.put(key, String(sequence));
      history.acknowledged = sequence;
    } else {
      const value = await cluster.get(key);
      const seen = value === undefined ? -1 : Number(value);
      assert.ok(
        seen >= history.acknowledged && seen <= history.attempted,
        `${key}: read ${seen}, acknowledged ${history.acknowledged}, attempted ${history.attempted}`,
      );
    }
    operations++;
  }
  return operations;
}

const ACTIONS = ["membership", "split", "partition", "leader"] as const;

/** Returns how many of each action succeeded. */
async function nemesis(cluster: StoreCluster, until: number, random: Random): Promise<Map<string, number>> {
  const done = new Map<string, number>();
  while (systemClock.monotonicMs() < until) {
    const action = random.pick(ACTIONS);
    if (action === "split" && (done.get("split") ?? 0) >= MAX_SPLITS) continue;
    try {
      if (action === "membership") await changeMembership(cluster, random);
      else if (action === "split") {
        await cluster.split(
          bytes(`client-${random.intBelow(CLIENTS)}-key-${random.intBelow(KEYS_PER_CLIENT)}`),
        );
      } else if (action === "partition") await isolateBriefly(cluster, random);
      else await moveLeader(cluster, random);
      done.set(action, (done.get(action) ?? 0) + 1);
    } catch (error) {
      // The nemesis races with itself and the clients; a refused operation is part of the game.
      if (!(error instanceof Error)) throw error;
    }
    await sleep(50 + random.intBelow(150));
  }
  return done;
}

async function changeMembership(cluster: StoreCluster, random: Random): Promise<void> {
  const region = cluster.regionFor(bytes(`client-${random.intBelow(CLIENTS)}-key-0`));
  if (region === undefined) return;
  const voters = region.peers.filter((peer) => !isLearner(peer));
  const without = cluster.indexes.filter(
    (index) => findPeerOnStore(region, cluster.storeId(index)) === undefined,
  );
  if (voters.length > 3 || without.length === 0) {
    const leader = cluster.leaderOfRegion(region.id)?.store.storeId;
    const victim = random.pick(voters.filter((peer) => peer.storeId !== leader));
    await cluster.changePeer(region.id, { type: "remove", peer: victim });
  } else {
    await cluster.addPeer(region.id, random.pick(without));
  }
}

async function isolateBriefly(cluster: StoreCluster, random: Random): Promise<void> {
  const heal = cluster.isolate(random.pick(cluster.indexes));
  await sleep(200 + random.intBelow(300));
  heal();
}

async function moveLeader(cluster: StoreCluster, random: Random): Promise<void> {
  const region = cluster.regionFor(bytes(`client-${random.intBelow(CLIENTS)}-key-1`));
  if (region === undefined) return;
  const voters = region.peers.filter((peer) => peer.role === metapb.PeerRole.VOTER);
  const target = cluster.indexOf(random.pick(voters).storeId);
  await cluster.transferLeader(region.id, target, { timeoutMs: 2_000 });
}

test(`clients stay linearizable through conf changes, splits, partitions and message loss (SEED=${SEED})`, async (t) => {
  const random = new SeededRandom(SEED);
  const cluster = await StoreCluster.start({ label: "raftstore chaos", stores: 5, replicas: 3, seed: SEED });
  const histories = new Map<string, KeyHistory>();
  try {
    const stopDropping = cluster.addFilter(dropRandomly(0.05, cluster.random.fork()));
    const until = systemClock.monotonicMs() + DURATION_MS;
    const [done, ...operations] = await Promise.all([
      nemesis(cluster, until, random.fork()),
      ...Array.from({ length: CLIENTS }, (_, client) =>
        runClient(cluster, client, until, histories, random.fork()),
      ),
    ]);
    t.diagnostic(
      `client operations ${operations.join(", ")}; nemesis ${JSON.stringify(Object.fromEntries(done))}`,
    );
    stopDropping();
    cluster.heal();
    for (const [key, history] of histories) {
      const value = await cluster.get(key);
      const seen = value === undefined ? -1 : Number(value);
      assert.ok(seen >= history.acknowledged && seen <= history.attempted, `${key} ended at ${seen}`);
    }
  } finally {
    await cluster.close();
  }
});
