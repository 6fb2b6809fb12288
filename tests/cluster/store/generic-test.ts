/**
 * TinyKV's GenericTest over real gRPC: concurrent clients (append-workload.ts) and clients racing
 * compare-and-swaps on one key (cas-chain-workload.ts) run for a few short rounds while a nemesis applies
 * the enabled faults; after each round the faults are healed, every key must hold exactly its last
 * acknowledged value and no acknowledged swap may be lost. At the end every replica of every region must
 * hold the same region meta and data as its leader, and the feature under test must have done its work
 * (regions split, logs truncated).
 *
 * Faults:
 * - unreliable: the raft network drops and delays messages for the whole round;
 * - partitions: the stores are cut into two random groups, then healed, again and again;
 * - crash: a store crashes and restarts during the round, and every store restarts after it;
 * - confChange: random add-peer, remove-peer and transfer-leader operators through pd;
 * - maxRaftLog: raft logs are truncated beyond this many entries, so lagging peers need snapshots;
 * - split: tiny split thresholds, so the key space ends in many regions.
 */
import assert from "node:assert/strict";
import { metapb } from "#proto";
import { type Random, sleep } from "#runtime";
import type { RaftstoreConfig } from "../../../services/tikv-store/src/raftstore/raftstore-config.ts";
import { checkReplicasConverge } from "../../../services/tikv-store/src/testing/cluster/cluster-checks.ts";
import { StoreCluster } from "../../../services/tikv-store/src/testing/cluster/store-cluster.ts";
import { AppendWorkload } from "./append-workload.ts";
import { CasChainWorkload } from "./cas-chain-workload.ts";

export interface GenericTestOptions {
  readonly label: string;
  readonly clients: number;
  readonly unreliable: boolean;
  readonly crash: boolean;
  readonly partitions: boolean;
  /** Raft log entries kept before truncation; undefined keeps the default (no pressure). */
  readonly maxRaftLog: number | undefined;
  readonly confChange: boolean;
  readonly split: boolean;
  /** [confChange ? 5 : 3] */
  readonly stores?: number;
  readonly rounds?: number;
  readonly roundMs?: number;
}

export interface GenericTestReport {
  readonly seed: number;
  readonly regions: number;
  /** Snapshots sent to lagging or new peers over the whole test. */
  readonly snapshots: number;
  readonly workload: string;
  readonly nemesis: string;
}

const DEFAULT_ROUNDS = 2;
/** Clients racing compare-and-swaps on one shared key, next to the writers. */
const CAS_CLIENTS = 2;
const DEFAULT_ROUND_MS = 3_000;
/** After healing, a write in hand must be acknowledged within this long. */
const RECOVERY_MS = 20_000;
const NEMESIS_PAUSE_MIN_MS = 150;
const NEMESIS_PAUSE_MAX_MS = 500;
/** Share of the conf-change nemesis's actions that move a leader instead of a peer. */
const LEADER_TRANSFER_SHARE = 0.3;
/** Split thresholds small enough that a few hundred keys make several regions. */
const SPLIT_RAFTSTORE: Partial<RaftstoreConfig> = {
  regionSplitKeys: 20,
  regionSplitSizeBytes: 3 * 1024,
  regionMaxSizeBytes: 4 * 1024,
};

export async function genericTest(options: GenericTestOptions): Promise<GenericTestReport> {
  const stores = options.stores ?? (options.confChange ? 5 : 3);
  const cluster = await StoreCluster.start({
    label: options.label,
    stores,
    transport: "grpc",
    replicas: 3,
    raftstore: {
      ...(options.split ? SPLIT_RAFTSTORE : {}),
      ...(options.maxRaftLog === undefined
        ? {}
        : {
            raftLogGcCountLimit: options.maxRaftLog,
            raftLogGcThreshold: Math.max(1, Math.ceil(options.maxRaftLog / 4)),
          }),
    },
  });
  try {
    return await runRounds(cluster, options);
  } catch (error) {
    throw new Error(`${options.label} (SEED=${cluster.seed}) failed:\n${cluster.describe()}`, {
      cause: error,
    });
  } finally {
    await cluster.close();
  }
}

async function runRounds(cluster: StoreCluster, options: GenericTestOptions): Promise<GenericTestReport> {
  const workload = new AppendWorkload(await cluster.client(), {
    label: options.label.replaceAll(" ", "-"),
    clients: options.clients,
    keysPerClient: options.split ? 40 : 8,
    valuePaddingBytes: options.split ? 64 : 8,
    random: cluster.random.fork(),
  });
  const swaps = new CasChainWorkload(await cluster.client(), {
    label: options.label.replaceAll(" ", "-"),
    clients: CAS_CLIENTS,
    random: cluster.random.fork(),
  });
  const nemesis = new Nemesis(cluster, options, cluster.random.fork());
  for (let round = 0; round < (options.rounds ?? DEFAULT_ROUNDS); round++) {
    workload.start();
    swaps.start();
    await nemesis.run(options.roundMs ?? DEFAULT_ROUND_MS);
    workload.requestStop();
    swaps.requestStop();
    await nemesis.heal();
    await workload.stop(RECOVERY_MS);
    await swaps.stop();
    if (options.crash) await restartEveryStore(cluster);
    await workload.verify();
    await swaps.verify();
    assert.deepEqual(workload.violations, [], `round ${round}: ${workload.describeStats()}`);
    assert.deepEqual(swaps.violations, [], `round ${round}: ${swaps.describeStats()}`);
  }
  assert.ok(workload.stats.writesAcknowledged > 0, "no write was ever acknowledged");
  await checkReplicasConverge(cluster);
  const regions = await cluster.regions();
  if (options.split)
    assert.ok(regions.length >= 3, `only ${regions.length} regions after the split workload`);
  if (options.maxRaftLog !== undefined) await checkRaftLogsBounded(cluster, options.maxRaftLog);
  return {
    seed: cluster.seed,
    regions: regions.length,
    snapshots: cluster.faults.snapshotsSent,
    workload: `${workload.describeStats()}; ${swaps.describeStats()}`,
    nemesis: nemesis.describe(),
  };
}

/** TinyKV's end of a crash round: every store goes down and comes back, recovering from disk. */
async function restartEveryStore(cluster: StoreCluster): Promise<void> {
  const indexes = cluster.runningIndexes();
  for (const index of indexes) await cluster.stop(index);
  for (const index of indexes) await cluster.restart(index);
}

type Fault = "partition" | "crash" | "conf-change";

class Nemesis {
  private readonly faults: readonly Fault[];
  private readonly counts = new Map<string, number>();

  constructor(
    private readonly cluster: StoreCluster,
    private readonly options: GenericTestOptions,
    private readonly random: Random,
  ) {
    this.faults = [
      ...(options.partitions ? (["partition"] as const) : []),
      ...(options.crash ? (["crash"] as const) : []),
      ...(options.confChange ? (["conf-change"] as const) : []),
    ];
  }

  /** Applies faults for `durationMs`, one every few hundred milliseconds. */
  async run(durationMs: number): Promise<void> {
    this.cluster.unreliable(this.options.unreliable);
    const deadline = Date.now() + durationMs;
    while (Date.now() < deadline) {
      await sleep(this.random.intBetween(NEMESIS_PAUSE_MIN_MS, NEMESIS_PAUSE_MAX_MS));
      if (this.faults.length === 0) continue;
      const fault = this.random.pick(this.faults);
      await this.apply(fault);
    }
  }

  /** Ends every fault: the network is healed and crashed stores are started again. */
  async heal(): Promise<void> {
    this.cluster.heal();
    for (let index = 0; index < this.cluster.storeCount; index++) {
      if (!this.cluster.isRunning(index)) await this.cluster.restart(index);
    }
  }

  describe(): string {
    return [...this.counts].map(([what, count]) => `${what}×${count}`).join(" ") || "no faults";
  }

  private count(what: string): void {
    this.counts.set(what, (this.counts.get(what) ?? 0) + 1);
  }

  private async apply(fault: Fault): Promise<void> {
    switch (fault) {
      case "partition":
        return this.togglePartition();
      case "crash":
        return this.crashOrRestart();
      case "conf-change":
        return this.changeMembership();
      default:
        return fault satisfies never;
    }
  }

  /** TinyKV's partitions: two random groups, alternating with a healed network. */
  private togglePartition(): void {
    const { cluster } = this;
    if (cluster.faults.partitioned) {
      cluster.heal();
      cluster.unreliable(this.options.unreliable);
      this.count("heal");
      return;
    }
    const indexes = this.random.shuffle(Array.from({ length: cluster.storeCount }, (_, index) => index));
    const cut = this.random.intBetween(1, indexes.length);
    cluster.partition([indexes.slice(0, cut), indexes.slice(cut)]);
    this.count("partition");
  }

  /** At most one store down at a time, so a majority of every region stays up. */
  private async crashOrRestart(): Promise<void> {
    const { cluster } = this;
    const down = Array.from({ length: cluster.storeCount }, (_, index) => index).filter(
      (index) => !cluster.isRunning(index),
    );
    if (down.length > 0) {
      await cluster.restart(down[0]!);
      this.count("restart");
      return;
    }
    await cluster.stop(this.random.pick(cluster.runningIndexes()));
    this.count("crash");
  }

  /**
   * Changes a random region's membership or leadership through pd: adds or removes a peer (keeping 2 to 4
   * voters) or moves the leader to another voter. pd may refuse (an operator already runs, the removal
   * would break quorum); nothing is waited for, so the next change may overlap this one — which is the point.
   */
  private async changeMembership(): Promise<void> {
    const { cluster } = this;
    const regions = await cluster.regions();
    if (regions.length === 0) return;
    const region = this.random.pick(regions);
    const voters = region.peers.filter((peer) => peer.role === metapb.PeerRole.VOTER);
    const request = this.random.chance(LEADER_TRANSFER_SHARE)
      ? {
          name: "transfer-leader",
          region_id: String(region.id),
          to_store_id: String(this.random.pick(voters).storeId),
        }
      : this.peerChange(region, voters.length);
    if (request === undefined) return;
    try {
      await cluster.pdOperator(request, 0);
      this.count(request.name);
    } catch {
      this.count("refused");
    }
  }

  private peerChange(
    region: metapb.Region,
    voters: number,
  ): { readonly name: string; readonly region_id: string; readonly store_id: string } | undefined {
    const storeId = this.cluster.storeId(this.random.intBelow(this.cluster.storeCount));
    const has = region.peers.some((peer) => peer.storeId === storeId);
    if (has && voters <= 2) return undefined;
    if (!has && voters >= 4) return undefined;
    return {
      name: has ? "remove-peer" : "add-peer",
      region_id: String(region.id),
      store_id: String(storeId),
    };
  }
}

/**
 * Log GC keeps every replica's raft log near `maxRaftLog` entries (TinyKV checks twice the limit): the
 * leader truncates up to its applied index once the limit is reached, and followers follow the CompactLog.
 */
async function checkRaftLogsBounded(cluster: StoreCluster, maxRaftLog: number): Promise<void> {
  await cluster.waitFor(`every raft log to hold at most ${2 * maxRaftLog} entries`, async () => {
    for (const index of cluster.runningIndexes()) {
      const store = cluster.store(index);
      const { raftLogStore } = store.engines;
      for (const { regionId } of store.peers()) {
        const state = await raftLogStore.raftState(regionId);
        const first = await raftLogStore.firstStoredIndex(regionId);
        const entries = state === undefined || first === undefined ? 0 : state.lastIndex - first + 1;
        if (entries > 2 * maxRaftLog) {
          throw new Error(`store ${index} region ${regionId} holds ${entries} raft log entries`);
        }
      }
    }
    return true;
  });
}
