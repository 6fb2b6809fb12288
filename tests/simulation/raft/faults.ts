/**
 * The nemesis. Each seed draws its own fault profile (swarm testing, as in TigerBeetle's VOPR: a run
 * with few fault kinds at high rates finds bugs a run with every fault at a low rate drowns out), then
 * every step may inject one fault that heals itself after a while:
 *
 * - background message loss, duplication and reordering for the whole run;
 * - partitions of every shape: random splits, majority/minority, the leader isolated, one follower
 *   isolated, a "bridge" node that sees both sides, and one-way links;
 * - latency spikes on one node's links;
 * - crashes (of the leader or anyone) with a restart later;
 * - faults at interesting moments (FoundationDB's "buggify" idea): a crash right after a node granted a
 *   vote or acknowledged entries, inside the window where a node that answered before persisting would
 *   forget what it promised; a new leader cut off before its first appends go out, which leaves its
 *   entries on it alone (the divergent logs of the raft paper's Figure 8); a new leader cut off right
 *   after its first commit, when entries of earlier terms became committed and only it knows (the rest
 *   of Figure 8); a leader crashing right after it advanced its commit index.
 */
import { type Message, MessageType, type NodeId } from "#raft";
import type { Random } from "#runtime";
import type { FilterId, Scheduler, SimNetwork } from "#sim";
import type { SimCluster } from "./cluster.ts";
import type { RunCounters, Trace } from "./history.ts";
import type { NodeHost } from "./node-host.ts";

export interface FaultProfile {
  /** Runs that concentrate on leadership hazards; they also split appends into one entry per message. */
  readonly leaderHazards: boolean;
  readonly dropProbability: number;
  readonly duplicateProbability: number;
  readonly reorderProbability: number;
  readonly partitionChancePerStep: number;
  readonly latencySpikeChancePerStep: number;
  readonly crashChancePerStep: number;
  /** Chance that granting a vote or acknowledging entries is followed by a crash within the fsync window. */
  readonly crashAfterAnswerProbability: number;
  /** Chance that a node is isolated the moment it becomes leader. */
  readonly isolateNewLeaderProbability: number;
  /** Chance that a leader crashes right after its commit index advanced. */
  readonly crashAfterCommitProbability: number;
  /** Chance that a new leader is isolated right after its first commit, before followers learn of it. */
  readonly isolateAfterFirstCommitProbability: number;
  /** Longest a partition or latency spike lasts before it heals. */
  readonly maxFaultDurationMs: number;
  /** Longest a crashed node stays down. */
  readonly maxDowntimeMs: number;
}

/**
 * Draws the profile of one run; every kind of fault is switched off in some runs and strong in others.
 * A third of the runs concentrate on leadership hazards (new leaders cut off at birth or right after
 * their first commit, for long enough that a rival can win), which take several faults in a row to hit.
 */
export function randomFaultProfile(random: Random): FaultProfile {
  const maybe = (enabledChance: number, values: readonly number[]): number =>
    random.chance(enabledChance) ? random.pick(values) : 0;
  const mixed: FaultProfile = {
    leaderHazards: false,
    dropProbability: maybe(0.5, [0.01, 0.05, 0.2]),
    duplicateProbability: maybe(0.4, [0.01, 0.1]),
    reorderProbability: maybe(0.4, [0.02, 0.1, 0.3]),
    partitionChancePerStep: maybe(0.7, [0.01, 0.03, 0.08]),
    latencySpikeChancePerStep: maybe(0.3, [0.01, 0.05]),
    crashChancePerStep: maybe(0.7, [0.005, 0.02, 0.05]),
    crashAfterAnswerProbability: maybe(0.3, [0.002, 0.01, 0.05]),
    isolateNewLeaderProbability: maybe(0.2, [0.1, 0.3]),
    crashAfterCommitProbability: maybe(0.3, [0.01, 0.05]),
    isolateAfterFirstCommitProbability: maybe(0.2, [0.1, 0.3]),
    maxFaultDurationMs: random.pick([500, 2_000, 5_000]),
    maxDowntimeMs: random.pick([500, 2_000, 5_000]),
  };
  if (!random.chance(1 / 3)) return mixed;
  return {
    ...mixed,
    leaderHazards: true,
    // Other faults mostly interrupt the chain of events a leadership hazard needs.
    partitionChancePerStep: mixed.partitionChancePerStep / 4,
    crashChancePerStep: mixed.crashChancePerStep / 4,
    isolateNewLeaderProbability: random.pick([0.5, 0.8]),
    isolateAfterFirstCommitProbability: random.pick([0.5, 0.8]),
    maxFaultDurationMs: random.pick([2_000, 3_000, 5_000]),
    maxDowntimeMs: random.pick([1_000, 2_000]),
  };
}

export function describeFaultProfile(profile: FaultProfile): string {
  return Object.entries(profile)
    .filter(([, value]) => value !== 0 && value !== false)
    .map(([key, value]) => `${key}=${value}`)
    .join(" ");
}

const REORDER_MAX_EXTRA_MS = 200;
const MIN_FAULT_DURATION_MS = 50;
// Two overlapping connectivity faults already make shapes no single partition has; more only starves the run.
const MAX_CONCURRENT_PARTITIONS = 2;

type PartitionShape =
  | "random-split"
  | "majority-minority"
  | "isolate-leader"
  | "isolate-follower"
  | "bridge"
  | "one-way";
const PARTITION_SHAPES: readonly PartitionShape[] = [
  "random-split",
  "majority-minority",
  "isolate-leader",
  "isolate-follower",
  "bridge",
  "one-way",
];

export interface NemesisOptions {
  readonly cluster: SimCluster;
  readonly network: SimNetwork<Message>;
  readonly scheduler: Scheduler;
  readonly random: Random;
  readonly profile: FaultProfile;
  readonly counters: RunCounters;
  readonly trace: Trace;
  /** Upper end of the simulated fsync delay: a targeted crash lands inside it. */
  readonly fsyncMaxMs: number;
}

export class Nemesis {
  private readonly activePartitions = new Set<FilterId>();
  private readonly pendingRestarts = new Set<NodeId>();
  /** The term of each node's latest commit as leader, to spot a new leader's first commit. */
  private readonly firstCommitTerm = new Map<NodeId, number>();
  private healed = false;

  constructor(private readonly options: NemesisOptions) {
    const { network, profile } = options;
    if (profile.dropProbability > 0) network.dropMessages(profile.dropProbability);
    if (profile.duplicateProbability > 0) network.duplicateMessages(profile.duplicateProbability);
    if (profile.reorderProbability > 0)
      network.reorderMessages(profile.reorderProbability, REORDER_MAX_EXTRA_MS);
  }

  /** One workload step's chance of a new fault. */
  step(): void {
    const { random, profile } = this.options;
    if (random.chance(profile.partitionChancePerStep)) this.partition();
    if (random.chance(profile.latencySpikeChancePerStep)) this.latencySpike();
    if (random.chance(profile.crashChancePerStep)) this.crashSomeone();
  }

  /** Called for every message a node sends. */
  messageSent(host: NodeHost, message: Message): void {
    const probability = this.options.profile.crashAfterAnswerProbability;
    if (probability === 0 || this.healed || !isPromise(message)) return;
    if (!this.options.random.chance(probability) || !this.mayCrashAnother()) return;
    const delayMs = this.options.random.intBelow(this.options.fsyncMaxMs + 1);
    this.options.scheduler.schedule(
      delayMs,
      () => this.crashAndRestartLater(host.id, "after answering"),
      "nemesis crash",
    );
  }

  /** Called as a node becomes leader, before its first appends are sent. */
  becameLeader(host: NodeHost): void {
    const probability = this.options.profile.isolateNewLeaderProbability;
    if (this.healed || probability === 0 || !this.options.random.chance(probability)) return;
    this.isolateNow(host, "new leader");
  }

  /**
   * Called when a leader's commit index advanced, before it tells its followers. A new leader's first
   * commit is the moment entries of earlier terms become committed, the hazard of the raft paper's
   * Figure 8: cutting the leader off right then leaves the commit known to it alone.
   */
  leaderCommitted(host: NodeHost): void {
    const { random, profile, scheduler } = this.options;
    if (this.healed) return;
    const firstInTerm = this.firstCommitTerm.get(host.id) !== host.currentTerm;
    this.firstCommitTerm.set(host.id, host.currentTerm);
    if (firstInTerm && profile.isolateAfterFirstCommitProbability > 0) {
      if (random.chance(profile.isolateAfterFirstCommitProbability))
        this.isolateNow(host, "leader after its first commit");
      return;
    }
    if (profile.crashAfterCommitProbability === 0 || !random.chance(profile.crashAfterCommitProbability))
      return;
    if (!this.mayCrashAnother()) return;
    const delayMs = random.intBelow(this.options.fsyncMaxMs + 1);
    scheduler.schedule(
      delayMs,
      () => this.crashAndRestartLater(host.id, "after committing"),
      "nemesis crash",
    );
  }

  /** Isolates `host` at once, so even the messages of the Ready being handled are lost. */
  private isolateNow(host: NodeHost, who: string): void {
    const network = this.options.network;
    if (this.activePartitions.size >= MAX_CONCURRENT_PARTITIONS) return;
    const id = network.isolate(host.id);
    this.activePartitions.add(id);
    this.fault(`isolate ${who} ${host.id} (term ${host.currentTerm})`, () => {
      network.removeFilter(id);
      this.activePartitions.delete(id);
    });
  }

  /** Ends every fault and restarts every crashed node, for the liveness check at the end of a run. */
  healAll(): void {
    this.healed = true;
    const { network, cluster, trace } = this.options;
    network.clearFilters();
    this.activePartitions.clear();
    trace.record(0, "heal all faults");
    for (const host of cluster.downHosts()) cluster.restart(host.id);
  }

  private partition(): void {
    if (this.activePartitions.size >= MAX_CONCURRENT_PARTITIONS) return;
    const { random, network } = this.options;
    const ids = this.options.cluster.members().map((host) => host.id);
    if (ids.length < 2) return;
    const shape = random.pick(PARTITION_SHAPES);
    const leader = this.options.cluster.leader()?.id;
    let id: FilterId;
    if (shape === "isolate-leader" && leader !== undefined) id = network.isolate(leader);
    else if (shape === "isolate-follower" || shape === "isolate-leader") {
      const followers = ids.filter((node) => node !== leader);
      id = network.isolate(random.pick(followers));
    } else if (shape === "one-way") {
      const [from, to] = random.shuffle([...ids]);
      id = network.dropMessages(1, { from: from!, to: to! });
    } else {
      id = network.partition(this.partitionGroups(shape, ids));
    }
    this.activePartitions.add(id);
    const description = network.activeFilters().find((filter) => filter.id === id)?.description;
    this.fault(`partition (${shape}) ${description}`, () => {
      network.removeFilter(id);
      this.activePartitions.delete(id);
    });
  }

  private partitionGroups(shape: PartitionShape, ids: readonly NodeId[]): NodeId[][] {
    const shuffled = this.options.random.shuffle([...ids]);
    if (shape === "majority-minority") {
      const minority = Math.floor(shuffled.length / 2);
      return [shuffled.slice(0, minority), shuffled.slice(minority)];
    }
    if (shape === "bridge" && shuffled.length >= 3) {
      // The bridge node is in no group, so it reaches both sides while the sides cannot reach each other.
      const sides = shuffled.slice(1);
      const cut = 1 + this.options.random.intBelow(sides.length - 1);
      return [sides.slice(0, cut), sides.slice(cut)];
    }
    const cut = 1 + this.options.random.intBelow(shuffled.length - 1);
    return [shuffled.slice(0, cut), shuffled.slice(cut)];
  }

  private latencySpike(): void {
    const { random, network, cluster } = this.options;
    const members = cluster.members();
    if (members.length === 0) return;
    const node = random.pick(members).id;
    const maxMs = random.pick([20, 100, 400]);
    const id = network.delayMessages({ minMs: 0, maxMs }, { from: node });
    this.fault(`latency spike up to ${maxMs}ms on messages from node ${node}`, () =>
      network.removeFilter(id),
    );
  }

  private crashSomeone(): void {
    const { random, cluster } = this.options;
    if (!this.mayCrashAnother()) return;
    const leader = cluster.leader();
    const candidates = cluster.upHosts();
    if (candidates.length === 0) return;
    const victim = leader !== undefined && random.chance(0.4) ? leader : random.pick(candidates);
    this.crashAndRestartLater(victim.id, "random");
  }

  private crashAndRestartLater(id: NodeId, why: string): void {
    const { cluster, random, scheduler, counters } = this.options;
    if (this.healed || cluster.host(id)?.isUp !== true) return;
    cluster.crash(id);
    counters.faultsInjected++;
    this.options.trace.record(id, `nemesis crash (${why})`);
    this.pendingRestarts.add(id);
    const downMs = MIN_FAULT_DURATION_MS + random.intBelow(this.options.profile.maxDowntimeMs);
    scheduler.schedule(
      downMs,
      () => {
        this.pendingRestarts.delete(id);
        if (!this.healed) cluster.restart(id);
      },
      "nemesis restart",
    );
  }

  /** Keeps a majority of the cluster running most of the time, but lets it lose quorum now and then. */
  private mayCrashAnother(): boolean {
    const members = this.options.cluster.members().length;
    const down = this.pendingRestarts.size;
    return down < Math.floor((members - 1) / 2) || (down < members && this.options.random.chance(0.1));
  }

  private fault(description: string, heal: () => void): void {
    const { random, scheduler, counters, trace } = this.options;
    counters.faultsInjected++;
    trace.record(0, `fault: ${description}`);
    const durationMs = MIN_FAULT_DURATION_MS + random.intBelow(this.options.profile.maxFaultDurationMs);
    scheduler.schedule(
      durationMs,
      () => {
        if (this.healed) return;
        heal();
        trace.record(0, `healed: ${description}`);
      },
      "nemesis heal",
    );
  }
}

/** Messages that promise something the sender must remember across a crash. */
function isPromise(message: Message): boolean {
  return (
    (message.type === MessageType.RequestVoteResponse || message.type === MessageType.AppendResponse) &&
    !message.reject
  );
}
