/**
 * pd's operators complete in seconds with production timing: a store heartbeat every 10 s, a region
 * heartbeat every 60 s, a scheduling pass every second. No step may wait for a periodic heartbeat, so a
 * fresh cluster has its replicas, and a split asked for by hand has happened, long before the first
 * periodic region heartbeat. pd and three stores run in this process on 127.0.0.1 with free ports.
 *
 * The deadlines bound a wait; they are not measurements (a loaded machine may be slower than usual).
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { PdClient, type PdRegion } from "#client";
import { createLogger, LOG_LEVELS, type LogLevel } from "#observability";
import { metapb } from "#proto";
import { pdOptionsWithDefaults, type RunningPd, startPd } from "../../../services/pd/src/server/pd-server.ts";
import {
  type RunningStore,
  startStore,
  storeOptionsWithDefaults,
} from "../../../services/tikv-store/src/server/store-server.ts";

const STORES = 3;
/** From the first store's start: bootstrap, a leader election, then two learners added and promoted. */
const REPLICATED_WITHIN_MS = 10_000;
const SPLIT_WITHIN_MS = 3_000;
const POLL_MS = 50;

/** Silent unless TESSERA_TEST_LOG_LEVEL names a level (to debug a failing run). */
function logLevel(): LogLevel {
  const level = process.env.TESSERA_TEST_LOG_LEVEL;
  return LOG_LEVELS.includes(level as LogLevel) ? (level as LogLevel) : "silent";
}

function voterCount(region: PdRegion): number {
  return region.region.peers.filter((peer) => peer.role === metapb.PeerRole.VOTER).length;
}

function describeRegions(regions: readonly PdRegion[]): string {
  return regions
    .map(
      ({ region, leader }) =>
        `region ${region.id} peers ${region.peers.map((peer) => `${peer.id}@${peer.storeId}${peer.role === metapb.PeerRole.LEARNER ? "L" : ""}`).join(",")} leader ${leader?.storeId ?? "none"}`,
    )
    .join("; ");
}

/** Polls until `probe` returns a value; fails with what it saw last once `timeoutMs` has passed. */
async function waitUntil<T>(
  description: string,
  timeoutMs: number,
  probe: () => Promise<T | undefined>,
  lastSeen: () => string,
): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (performance.now() > deadline) {
      assert.fail(`not ${description} within ${timeoutMs} ms; last seen: ${lastSeen()}`);
    }
    await sleep(POLL_MS);
  }
}

describe("pd operators with production heartbeat intervals", () => {
  const root = mkdtempSync(join(tmpdir(), "tessera-operator-speed-"));
  const stores: RunningStore[] = [];
  let pd: RunningPd | undefined;
  let pdClient: PdClient | undefined;
  let startedAtMs = 0;
  let regions: PdRegion[] = [];

  const scan = async (): Promise<PdRegion[]> => {
    regions = await pdClient!.scanRegions(new Uint8Array(), new Uint8Array(), 0);
    return regions;
  };

  before(async () => {
    pd = await startPd(
      pdOptionsWithDefaults({
        dataDir: join(root, "pd"),
        listenHost: "127.0.0.1",
        clientPort: 0,
        httpPort: 0,
        logLevel: logLevel(),
      }),
    );
    pdClient = await PdClient.connect({ endpoints: [pd.clientUrl] });
    const defaults = storeOptionsWithDefaults({});
    assert.equal(defaults.regionHeartbeatIntervalMs, 60_000, "the production region heartbeat interval");
    assert.equal(defaults.storeHeartbeatIntervalMs, 10_000, "the production store heartbeat interval");
    startedAtMs = performance.now();
    for (let index = 0; index < STORES; index++) {
      stores.push(
        await startStore(
          storeOptionsWithDefaults({
            dataDir: join(root, `store-${index}`),
            listenAddress: "127.0.0.1:0",
            statusListenAddress: "127.0.0.1:0",
            pdEndpoints: [pd.clientUrl],
            // Closing is not under test: no hand-over of leaders first.
            leaderTransferTimeoutMs: 0,
            logger: createLogger({ component: "tikv-store", level: logLevel() }),
          }),
        ),
      );
    }
  });

  after(async () => {
    for (const store of stores.splice(0).reverse()) await store.close();
    pdClient?.close();
    await pd?.close();
    rmSync(root, { recursive: true, force: true });
  });

  it(`a fresh cluster has ${STORES} voters on every region within ${REPLICATED_WITHIN_MS / 1000} s`, async () => {
    const elapsedMs = performance.now() - startedAtMs;
    await waitUntil(
      `${STORES} voters on every region`,
      REPLICATED_WITHIN_MS - elapsedMs,
      async () => {
        const all = await scan();
        const replicated =
          all.length > 0 &&
          all.every(
            (region) =>
              region.leader !== undefined &&
              voterCount(region) === STORES &&
              region.region.peers.length === STORES,
          );
        return replicated ? all : undefined;
      },
      () => describeRegions(regions),
    );
  });

  it(`an operator add split completes within ${SPLIT_WITHIN_MS / 1000} s`, async () => {
    const [first] = await scan();
    assert.ok(first !== undefined && regions.length === 1, describeRegions(regions));
    const splitKey = Buffer.from("m");
    const response = await fetch(`${pd!.httpUrl}/pd/api/v1/operators`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        name: "split-region",
        region_id: first.region.id.toString(),
        keys: [splitKey.toString("hex")],
      }),
    });
    assert.equal(response.status, 200, await response.text());
    await waitUntil(
      "split at m",
      SPLIT_WITHIN_MS,
      async () => {
        const all = await scan();
        const split =
          all.length === 2 &&
          Buffer.from(all[0]!.region.endKey).equals(splitKey) &&
          all.every((region) => region.leader !== undefined);
        return split ? all : undefined;
      },
      () => describeRegions(regions),
    );
  });
});
