/**
 * The raw client against a real cluster: pd (embedded backend) and three stores in this process over real
 * gRPC, with split thresholds so small that the data spreads over many regions. Writers, readers and
 * scanners run concurrently while leaders are moved by pd operators and one store is stopped and started
 * again on its data directory. Every acknowledged write must read back exactly; every scan must come back
 * in key order without duplicates; at the end the whole key space holds exactly what was acknowledged
 * (plus, at most, writes whose outcome was unknown).
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { PdClient, type PdRegion, RawKvClient, UnknownOutcomeError } from "#client";
import { compareBytes } from "#codec";
import { createRegistry, MetricFactory } from "#observability";
import { SeededRandom, sleep } from "#runtime";
import { DEFAULT_SCHEDULE_CONFIG } from "../../../services/pd/src/schedule/index.ts";
import { defaultRaftstoreConfig } from "../../../services/tikv-store/src/raftstore/raftstore-config.ts";
import {
  PdOperatorError,
  StoreCluster,
} from "../../../services/tikv-store/src/testing/cluster/store-cluster.ts";

const STORES = 3;
const PRELOADED_KEYS = 400;
const WRITERS = 4;
/** Each writer writes at least this many keys, and goes on until the leader moves and restart are over. */
const WRITES_PER_WRITER = 60;
const MAX_WRITES_PER_WRITER = 5_000;
const LEADER_MOVES = 30;
const MIN_REGIONS = 6;
const SEED = Number(process.env.SEED ?? 20_240_611);

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const bytes = (text: string): Uint8Array => encoder.encode(text);
const text = (data: Uint8Array | undefined): string | undefined =>
  data === undefined ? undefined : decoder.decode(data);
const preloadedKey = (index: number): string => `k${String(index).padStart(5, "0")}`;

function mostLeaders(regions: readonly PdRegion[]): bigint {
  const counts = new Map<bigint, number>();
  for (const region of regions) {
    const storeId = region.leader?.storeId;
    if (storeId !== undefined) counts.set(storeId, (counts.get(storeId) ?? 0) + 1);
  }
  return [...counts].sort((left, right) => right[1] - left[1])[0]![0];
}

/** Writes whose outcome is known to be applied, and those whose outcome is unknown (the call failed). */
interface WriteLog {
  readonly acknowledged: Map<string, string>;
  /** Writes that failed: name → the value written and the error. */
  readonly unknown: Map<string, { readonly value: string; readonly error: unknown }>;
}

describe(`RawKvClient on a real 3-store cluster (SEED=${SEED})`, { timeout: 240_000 }, () => {
  let cluster: StoreCluster;
  let pd: PdClient;
  let client: RawKvClient;
  const registry = createRegistry("test");

  before(async () => {
    cluster = await StoreCluster.start({
      label: "raw client",
      stores: STORES,
      transport: "grpc",
      seed: SEED,
      // pd replicates, splits and balances as in production; the raftstore keeps production timings.
      replicas: 1,
      schedule: DEFAULT_SCHEDULE_CONFIG,
      raftstore: {
        ...defaultRaftstoreConfig(),
        splitCheckTickMs: 200,
        regionSplitKeys: 40,
        regionSplitSizeBytes: 4 * 1024,
        regionMaxSizeBytes: 6 * 1024,
        raftLogGcTickMs: 1_000,
      },
      // A stopped store hands its leaders over first.
      store: {
        storeHeartbeatIntervalMs: 500,
        regionHeartbeatIntervalMs: 500,
        leaderTransferTimeoutMs: 3_000,
      },
    });
    pd = await PdClient.connect({ endpoints: [cluster.pd.clientUrl] });
    client = await RawKvClient.connect({
      pdEndpoints: [cluster.pd.clientUrl],
      random: new SeededRandom(SEED),
      metrics: new MetricFactory(registry, "test"),
    });
  });

  after(async () => {
    await client?.close();
    await pd?.close();
    await cluster?.close();
  });

  /** Regions not yet led and fully replicated (every store a peer, none pending), described; empty when steady. */
  async function unsettledRegions(): Promise<string[]> {
    const regions = await pd.scanRegions(new Uint8Array(), new Uint8Array(), 0);
    return regions
      .filter(
        (region) =>
          region.leader === undefined ||
          region.region.peers.length < STORES ||
          region.pendingPeers.length > 0,
      )
      .map(
        (region) =>
          `region ${region.region.id}: leader ${region.leader?.storeId ?? "none"}, ` +
          `peers on ${region.region.peers.map((peer) => peer.storeId).join("/")}, ${region.pendingPeers.length} pending`,
      );
  }

  async function regionCount(): Promise<number> {
    return (await pd.scanRegions(new Uint8Array(), new Uint8Array(), 0)).length;
  }

  it("preloads keys that split into many regions, then reads them back in order", async () => {
    const pairs = Array.from({ length: PRELOADED_KEYS }, (_, index) => ({
      key: bytes(preloadedKey(index)),
      value: bytes(`pre-${index}`),
    }));
    for (let start = 0; start < pairs.length; start += 50)
      await client.batchPut(pairs.slice(start, start + 50));
    for (let attempt = 0; attempt < 300 && (await regionCount()) < MIN_REGIONS; attempt++) await sleep(100);
    assert.ok((await regionCount()) >= MIN_REGIONS, `only ${await regionCount()} regions`);
    // Chaos starts from a steady cluster: every region on every store (no snapshot still in flight).
    for (let attempt = 0; attempt < 600 && (await unsettledRegions()).length > 0; attempt++) await sleep(100);
    assert.deepEqual(await unsettledRegions(), [], "pd never placed a voter of every region on every store");

    const scanned = await client.scan(bytes("k"), bytes("l"), 10_000);
    assert.deepEqual(
      scanned.map((pair) => text(pair.key)),
      pairs.map((pair) => text(pair.key)),
    );
    const reversed = await client.scan(bytes("k"), bytes("l"), 25, { reverse: true });
    assert.deepEqual(
      reversed.map((pair) => text(pair.key)),
      pairs
        .slice(-25)
        .reverse()
        .map((pair) => text(pair.key)),
    );
    const values = await client.batchGet(pairs.map((pair) => pair.key));
    assert.deepEqual(
      values.map(text),
      pairs.map((pair) => text(pair.value)),
    );
  });

  it("keeps every acknowledged write while leaders move and a store restarts", async () => {
    const random = new SeededRandom(SEED);
    const log: WriteLog = { acknowledged: new Map(), unknown: new Map() };
    let chaosDone = false;
    let writersDone = false;
    const problems: string[] = [];

    const chaos = disturb(random).finally(() => {
      chaosDone = true;
    });
    const writing = Promise.all(
      Array.from({ length: WRITERS }, (_, writer) => write(writer, log, () => chaosDone)),
    ).finally(() => {
      writersDone = true;
    });
    await Promise.all([
      chaos,
      writing,
      readBack(log, () => writersDone, problems),
      scanInOrder(() => writersDone, problems),
    ]);

    assert.deepEqual(problems, []);
    const streamEvents =
      (await registry.getSingleMetric("test_tikvclient_stream_events_total")?.get())?.values ?? [];
    const broken = streamEvents.find((event) => event.labels.event === "broken")?.value ?? 0;
    assert.ok(broken >= 1, "the restart broke the client's streams to that store, and the client carried on");
    // The client retries through leader moves and the restart on its own. The one failure allowed is a
    // write caught on the restarting store's stream after it was sent: its outcome is unknown, and the
    // client says so rather than resend it (a resent write may apply twice).
    const failed = [...log.unknown].filter(([, { error }]) => !(error instanceof UnknownOutcomeError));
    assert.deepEqual(
      failed.slice(0, 3).map(([name, { error }]) => [name, String(error)]),
      [],
    );
    assert.ok(log.unknown.size <= WRITERS, `${log.unknown.size} writes of unknown outcome`);
    assert.ok(log.acknowledged.size >= WRITERS * WRITES_PER_WRITER);
    await verifyFinalState(log);
  });

  async function write(writer: number, log: WriteLog, chaosDone: () => boolean): Promise<void> {
    for (
      let sequence = 0;
      sequence < MAX_WRITES_PER_WRITER && (sequence < WRITES_PER_WRITER || !chaosDone());
      sequence++
    ) {
      // Keys interleave with the preloaded ones, so writes land in every region.
      const name = `${preloadedKey((sequence * 7 + writer * 101) % PRELOADED_KEYS)}-w${writer}-${sequence}`;
      const value = `value-${writer}-${sequence}`;
      try {
        if (sequence % 3 === 0) {
          await client.batchPut([
            { key: bytes(name), value: bytes(value) },
            { key: bytes(`${name}-b`), value: bytes(value) },
          ]);
          log.acknowledged.set(`${name}-b`, value);
        } else {
          await client.put(bytes(name), bytes(value));
        }
        log.acknowledged.set(name, value);
      } catch (error) {
        log.unknown.set(name, { value, error });
      }
    }
  }

  async function readBack(log: WriteLog, done: () => boolean, problems: string[]): Promise<void> {
    for (let round = 0; round < 10_000 && !done(); round++) {
      const entries = [...log.acknowledged].slice(-20);
      if (entries.length === 0) {
        await sleep(20);
        continue;
      }
      const values = await client.batchGet(entries.map(([name]) => bytes(name))).catch(() => undefined);
      values?.forEach((value, index) => {
        const [name, expected] = entries[index]!;
        if (text(value) !== expected) problems.push(`read ${name}: got ${text(value)}, expected ${expected}`);
      });
      await sleep(10);
    }
  }

  async function scanInOrder(done: () => boolean, problems: string[]): Promise<void> {
    for (let round = 0; round < 10_000 && !done(); round++) {
      const reverse = round % 2 === 1;
      const pairs = await client.scan(bytes("k"), bytes("l"), 300, { reverse }).catch(() => undefined);
      if (pairs === undefined) continue;
      for (let index = 1; index < pairs.length; index++) {
        const order = compareBytes(pairs[index - 1]!.key, pairs[index]!.key);
        if (reverse ? order <= 0 : order >= 0) {
          problems.push(`scan out of order or duplicated at ${text(pairs[index]!.key)} (reverse ${reverse})`);
        }
      }
      await sleep(20);
    }
  }

  /** Moves leaders to random peers; early on, stops the store leading most regions and starts it again. */
  async function disturb(random: SeededRandom): Promise<void> {
    for (let round = 0; round < LEADER_MOVES; round++) {
      const regions = await pd.scanRegions(new Uint8Array(), new Uint8Array(), 0);
      const region = random.pick(regions);
      const target = random.pick(region.region.peers);
      if (target.storeId !== region.leader?.storeId) await transferLeader(region.region.id, target.storeId);
      if (round === 3) {
        // The busiest store, so the client is surely talking to it when it goes.
        const busiest = cluster.indexOf(mostLeaders(regions));
        await cluster.stop(busiest);
        await sleep(1_500);
        await cluster.restart(busiest);
      }
      await sleep(150);
    }
  }

  async function transferLeader(regionId: bigint, toStoreId: bigint): Promise<void> {
    const request = { name: "transfer-leader", region_id: String(regionId), to_store_id: String(toStoreId) };
    // A refusal (an operator already runs on the region, and the like) is fine: the point is leaders moving.
    await cluster.pdOperator(request, 0).catch((error: unknown) => {
      if (!(error instanceof PdOperatorError)) throw error;
    });
  }

  async function verifyFinalState(log: WriteLog): Promise<void> {
    const names = [...log.acknowledged.keys()];
    const values = await client.batchGet(names.map(bytes));
    names.forEach((name, index) => {
      assert.equal(text(values[index]), log.acknowledged.get(name), name);
    });

    // A write of unknown outcome either applied or did not: the key holds its value or nothing.
    const unknownNames = [...log.unknown.keys()];
    const unknownValues = await client.batchGet(unknownNames.map(bytes));
    unknownNames.forEach((name, index) => {
      const found = text(unknownValues[index]);
      if (found !== undefined) assert.equal(found, log.unknown.get(name)!.value, name);
    });

    const everything = await client.scan(bytes("k"), bytes("l"), 100_000);
    const keys = everything.map((pair) => text(pair.key)!);
    assert.deepEqual(keys, [...keys].sort(), "the final scan is in key order");
    assert.equal(new Set(keys).size, keys.length, "the final scan has no duplicates");
    const present = new Set(keys);
    for (const name of names) assert.ok(present.has(name), `acknowledged ${name} is missing from the scan`);
    for (const name of keys) {
      const known =
        name.indexOf("-") < 0 || log.acknowledged.has(name) || log.unknown.has(name.replace(/-b$/, ""));
      assert.ok(known, `the scan returned ${name}, which nobody wrote`);
    }
  }
});
