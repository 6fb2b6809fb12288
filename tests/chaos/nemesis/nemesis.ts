/**
 * Injects faults into a ChaosCluster on a schedule: a healthy period, then one fault (chosen with the run's
 * seeded random among the enabled kinds), then healed, and again until the deadline. Every fault is logged
 * with its start and end so the report can show throughput and unavailability around it. `healAll` undoes
 * whatever is in effect (restart killed processes, resume paused ones, drop partition rules, remove delays).
 */
import type { Random } from "#runtime";
import type { ChaosCluster } from "../netns/chaos-cluster.ts";
import { STORE_NODES } from "../netns/chaos-cluster.ts";
import {
  describeGrudge,
  isolateGrudge,
  majorityMinorityGrudge,
  PARTITION_SHAPES,
  type PartitionShape,
  ringGrudge,
} from "./partitions.ts";

export type FaultKind = "kill" | "pause" | "partition" | "delay";
export const FAULT_KINDS: readonly FaultKind[] = ["kill", "pause", "partition", "delay"];

/** Latencies the delay fault adds to each direction of a store's traffic (a round trip grows by twice). */
const DELAYS_MS: readonly number[] = [20, 100, 300];

export interface FaultRecord {
  readonly kind: FaultKind;
  readonly description: string;
  /**
   * When the fault was fully in effect (the process gone, every rule installed): installing a partition
   * takes a few hundred milliseconds of iptables calls, and operations that finish meanwhile say nothing
   * about how the cluster copes with it.
   */
  readonly startMs: number;
  endMs: number | undefined;
}

export interface NemesisOptions {
  readonly cluster: ChaosCluster;
  readonly kinds: readonly FaultKind[];
  readonly random: Random;
  readonly nowMs: () => number;
  readonly healthyMs: number;
  readonly faultMs: number;
  /** Share of kill and pause faults aimed at pd rather than a store. */
  readonly pdFaultShare: number;
}

export class Nemesis {
  readonly faults: FaultRecord[] = [];
  private killed: string[] = [];
  private paused: string[] = [];
  private partitioned = false;
  private delayed: string[] = [];

  constructor(private readonly options: NemesisOptions) {}

  /** Alternates healthy periods and faults until `untilMs`, then heals; the last fault ends before it. */
  async run(untilMs: number, signal: AbortSignal): Promise<void> {
    const { healthyMs, faultMs, nowMs } = this.options;
    while (!signal.aborted && nowMs() + healthyMs + faultMs <= untilMs) {
      await sleepUnless(healthyMs, signal);
      if (signal.aborted) break;
      await this.inject();
      await sleepUnless(faultMs, signal);
      await this.healAll();
    }
    await this.healAll();
  }

  /** Undoes every fault in effect; safe to call at any time, twice, or with nothing to undo. */
  async healAll(): Promise<void> {
    const { cluster } = this.options;
    for (const node of this.paused) cluster.process(node).resume();
    this.paused = [];
    if (this.partitioned) await cluster.heal();
    this.partitioned = false;
    for (const node of this.delayed) await cluster.setDelay(node, 0);
    this.delayed = [];
    for (const node of this.killed) await cluster.process(node).start();
    this.killed = [];
    const open = this.faults.at(-1);
    if (open !== undefined && open.endMs === undefined) open.endMs = this.options.nowMs();
  }

  private async inject(): Promise<void> {
    const kind = this.options.random.pick(this.options.kinds);
    const description = await this.injectKind(kind);
    this.faults.push({ kind, description, startMs: this.options.nowMs(), endMs: undefined });
  }

  private async injectKind(kind: FaultKind): Promise<string> {
    const { cluster } = this.options;
    switch (kind) {
      case "kill": {
        const node = this.pickTarget();
        this.killed.push(node);
        await cluster.process(node).kill();
        return `kill -9 ${node}`;
      }
      case "pause": {
        const node = this.pickTarget();
        this.paused.push(node);
        cluster.process(node).pause();
        return `SIGSTOP ${node}`;
      }
      case "partition":
        return this.partition(this.options.random.pick(PARTITION_SHAPES));
      case "delay":
        return this.delay();
    }
  }

  /** Slows one store, or every store (a slow network), by one of DELAYS_MS each way. */
  private async delay(): Promise<string> {
    const { cluster, random } = this.options;
    const ms = random.pick(DELAYS_MS);
    const nodes = random.chance(0.5) ? [...STORE_NODES] : [random.pick(STORE_NODES)];
    for (const node of nodes) {
      this.delayed.push(node);
      await cluster.setDelay(node, ms);
    }
    return `delay ${ms} ms into ${nodes.join(",")}`;
  }

  private async partition(shape: PartitionShape): Promise<string> {
    const { cluster, random } = this.options;
    const nodes = cluster.nodeNames;
    const grudge =
      shape === "isolate-one"
        ? isolateGrudge(nodes, random.pick(nodes))
        : shape === "isolate-leader"
          ? isolateGrudge(nodes, await this.someLeaderNode())
          : shape === "majority-minority"
            ? majorityMinorityGrudge(nodes, random)
            : ringGrudge(nodes, random);
    this.partitioned = true;
    await cluster.partition(grudge);
    return `partition ${shape}: ${describeGrudge(grudge)}`;
  }

  /** The store pd names as leader of a random region; a random store if pd cannot say. */
  private async someLeaderNode(): Promise<string> {
    const { cluster, random } = this.options;
    try {
      const [regions, nodesById] = await Promise.all([cluster.regions(), cluster.storeNodesById()]);
      const leaders = regions.flatMap((region) =>
        region.leaderStoreId === undefined ? [] : [nodesById.get(region.leaderStoreId)].filter(isDefined),
      );
      if (leaders.length > 0) return random.pick(leaders);
    } catch {
      // pd unreachable: fall through to a random store.
    }
    return random.pick(STORE_NODES);
  }

  private pickTarget(): string {
    const { random, pdFaultShare } = this.options;
    return random.chance(pdFaultShare) ? "pd" : random.pick(STORE_NODES);
  }
}

function isDefined<Value>(value: Value | undefined): value is Value {
  return value !== undefined;
}

function sleepUnless(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}
