/**
 * pd and three stores as child processes (`node --import tsx .../main.ts`, as an operator runs them) for
 * the crash tests: stores are killed with SIGKILL and started again on their data directories.
 */
import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { PdClient } from "#client";
import { metapb } from "#proto";
import { sleep } from "#runtime";
import { type StoreProcess, spawnStore } from "../../../services/tikv-store/src/testing/store-process.ts";
import { type PdProcess, spawnPd } from "../pd/pd-process.ts";

export const STORES = 3;
export const RECOVERY_MS = 30_000;
/** Fast ticks and tiny split thresholds, so failover is quick and the keys spread over several regions. */
export const STORE_FLAGS = [
  "--raftstore.base-tick-interval",
  "50ms",
  "--pd.store-heartbeat-interval",
  "500ms",
  "--pd.region-heartbeat-interval",
  "500ms",
  "--raftstore.split-region-check-tick-interval",
  "200ms",
  "--raftstore.region-split-keys",
  "30",
  "--raftstore.region-split-size",
  "3KiB",
  "--raftstore.region-max-size",
  "4KiB",
  "--raftstore.raft-log-gc-tick-interval",
  "500ms",
  "--shutdown.leader-transfer-timeout",
  "1s",
];

export class ProcessCluster {
  readonly stores: Array<StoreProcess | undefined> = [];
  readonly dataDirs: string[] = [];
  pd!: PdProcess;
  pdClient!: PdClient;

  constructor(readonly root: string) {}

  async start(): Promise<void> {
    this.pd = await spawnPd({
      name: "pd",
      dataDir: join(this.root, "pd"),
      extraArgs: ["--schedule.interval", "200ms"],
    });
    this.pdClient = await PdClient.connect({ endpoints: [this.pd.clientUrl] });
    for (let index = 0; index < STORES; index++) this.dataDirs.push(join(this.root, `store-${index}`));
    // The first store alone bootstraps the cluster; the others join it together.
    await this.spawn(0);
    await Promise.all([1, 2].map((index) => this.spawn(index)));
  }

  async spawn(index: number): Promise<StoreProcess> {
    const store = await spawnStore({
      dataDir: this.dataDirs[index]!,
      pdEndpoint: this.pd.clientUrl,
      extraArgs: STORE_FLAGS,
    });
    this.stores[index] = store;
    return store;
  }

  async kill(index: number): Promise<void> {
    const store = this.stores[index];
    this.stores[index] = undefined;
    await store?.kill("SIGKILL");
  }

  indexOf(storeId: bigint): number {
    const index = this.stores.findIndex((store) => store?.storeId === storeId);
    assert.ok(index >= 0, `store ${storeId} is not running`);
    return index;
  }

  async close(): Promise<void> {
    await Promise.allSettled(this.stores.map((_, index) => this.kill(index)));
    await this.pdClient?.close();
    await this.pd?.kill("SIGKILL");
    rmSync(this.root, { recursive: true, force: true });
  }
}

export /** Polls until `probe` returns a value; a throw counts as "not yet" and is reported on timeout. */
async function eventually<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs = RECOVERY_MS,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastProblem = "";
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      lastProblem = error instanceof Error ? error.message : String(error);
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${lastProblem}`);
    await sleep(100);
  }
}

/** Waits until the first region has all three voters (learners do not count) and a leader. */
export async function waitForFullReplication(cluster: ProcessCluster): Promise<void> {
  await eventually("the first region to have three voters (learners do not count)", async () => {
    const found = await cluster.pdClient.getRegion(new Uint8Array());
    const voters = found?.region.peers.filter((peer) => peer.role === metapb.PeerRole.VOTER).length;
    return voters === STORES && found?.leader !== undefined ? true : undefined;
  });
}
