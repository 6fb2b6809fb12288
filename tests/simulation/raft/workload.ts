/**
 * The clients and the operator: each step does one random action — proposals (usually at the leader,
 * sometimes at a follower that forwards them), ReadIndex / lease reads, membership changes, leader
 * transfers, log compactions, forced campaigns — or nothing. Membership changes keep three voters or more
 * most of the time but also visit two- and one-voter clusters, and may remove any voter except the leader
 * of a two-voter cluster. That leader would apply its own removal and step down with a log longer than
 * the survivor's; the survivor, still counting it as a voter until it learns the removal committed, can
 * then win neither its vote nor a quorum without it. Single-step membership change cannot avoid this
 * (raft uses applied configurations, as etcd does), so PD transfers leadership away first, and so do we.
 */
import { ConfChangeType, type NodeId } from "#raft";
import type { Random } from "#runtime";
import type { SimCluster } from "./cluster.ts";
import type { RunCounters, Trace } from "./history.ts";
import type { InvariantChecker } from "./invariants.ts";
import type { NodeHost } from "./node-host.ts";
import { encodeProposal, encodeReadContext } from "./payload.ts";

export interface WorkloadOptions {
  readonly cluster: SimCluster;
  readonly random: Random;
  readonly checker: InvariantChecker;
  readonly counters: RunCounters;
  readonly trace: Trace;
  /** Membership never grows past this many nodes. */
  readonly maxMembers: number;
  /** Node ids are never reused, so this bounds how many conf changes add a node. */
  readonly maxNodeIds: number;
}

type Action = "propose" | "read" | "conf-change" | "transfer-leader" | "compact" | "campaign" | "idle";

const ACTION_WEIGHTS: readonly (readonly [Action, number])[] = [
  ["propose", 45],
  ["read", 15],
  ["conf-change", 4],
  ["transfer-leader", 3],
  ["compact", 6],
  ["campaign", 1],
  ["idle", 26],
];
const TOTAL_WEIGHT = ACTION_WEIGHTS.reduce((sum, [, weight]) => sum + weight, 0);
const MAX_PROPOSALS_PER_STEP = 4;
// Stands for "a node that does not exist yet" until the change is picked and an id allocated for it.
const NEW_NODE = -1;

export class Workload {
  private nextProposalId = 1;
  private nextReadId = 1;
  private readonly appliedProposals = new Set<number>();

  constructor(private readonly options: WorkloadOptions) {}

  /** Called when any node applies a proposal; the first application acknowledges it to its client. */
  proposalApplied(proposalId: number): void {
    if (this.appliedProposals.has(proposalId)) return;
    this.appliedProposals.add(proposalId);
    this.options.counters.proposalsApplied++;
  }

  isApplied(proposalId: number): boolean {
    return this.appliedProposals.has(proposalId);
  }

  /** Proposes a fresh entry at `host`; returns its id, or undefined when raft dropped it. */
  propose(host: NodeHost): number | undefined {
    const id = this.nextProposalId++;
    this.options.counters.proposalsSubmitted++;
    if (host.propose(encodeProposal(id))) return id;
    this.options.counters.proposalsDropped++;
    return undefined;
  }

  step(): void {
    this.actions[this.pickAction()]();
  }

  private readonly actions: Readonly<Record<Action, () => void>> = {
    propose: () => this.proposeSome(),
    read: () => this.read(),
    "conf-change": () => this.changeMembership(),
    "transfer-leader": () => this.transferLeader(),
    compact: () => this.compact(),
    campaign: () => this.campaign(),
    idle: () => {},
  };

  private pickAction(): Action {
    let roll = this.options.random.intBelow(TOTAL_WEIGHT);
    for (const [action, weight] of ACTION_WEIGHTS) {
      if (roll < weight) return action;
      roll -= weight;
    }
    return "idle";
  }

  /** The leader most of the time, otherwise any running node (followers forward to the leader). */
  private target(): NodeHost | undefined {
    const { cluster, random } = this.options;
    const leader = cluster.leader();
    if (leader !== undefined && random.chance(0.8)) return leader;
    const up = cluster.upHosts();
    return up.length === 0 ? undefined : random.pick(up);
  }

  private proposeSome(): void {
    const host = this.target();
    if (host === undefined) return;
    const count = 1 + this.options.random.intBelow(MAX_PROPOSALS_PER_STEP);
    for (let proposal = 0; proposal < count; proposal++) this.propose(host);
  }

  private read(): void {
    const host = this.target();
    if (host === undefined) return;
    const id = this.nextReadId++;
    this.options.counters.readsRequested++;
    // Recorded before the request so anything committed up to now must be visible to the read.
    this.options.checker.readRequested(id, host.id);
    host.readIndex(encodeReadContext(id));
  }

  private transferLeader(): void {
    const { cluster, random, counters, trace } = this.options;
    const leader = cluster.leader();
    if (leader === undefined) return;
    const others = leader.applied.confState.voters.filter((id) => id !== leader.id);
    if (others.length === 0) return;
    const target = random.pick(others);
    counters.leaderTransfers++;
    trace.record(leader.id, "transfer leader", `to ${target}`);
    leader.transferLeader(target);
  }

  private compact(): void {
    const up = this.options.cluster.upHosts();
    if (up.length === 0) return;
    const host = this.options.random.pick(up);
    if (host.compact()) {
      this.options.counters.compactions++;
      this.options.trace.record(host.id, "compact", `up to ${host.applied.index}`);
    }
  }

  private campaign(): void {
    const up = this.options.cluster.upHosts();
    if (up.length === 0) return;
    const host = this.options.random.pick(up);
    this.options.trace.record(host.id, "campaign");
    host.campaign();
  }

  private changeMembership(): void {
    const { cluster, counters, trace } = this.options;
    const leader = cluster.leader();
    if (leader === undefined) return;
    const change = this.chooseConfChange(leader);
    if (change === undefined) return;
    counters.confChangesProposed++;
    trace.record(leader.id, "propose conf change", `${ConfChangeType[change.type]} ${change.nodeId}`);
    leader.proposeConfChange(change);
  }

  private chooseConfChange(leader: NodeHost): { type: ConfChangeType; nodeId: NodeId } | undefined {
    const { cluster, random, maxMembers, maxNodeIds } = this.options;
    const { voters, learners } = leader.applied.confState;
    const canAdd = voters.length + learners.length < maxMembers && cluster.nodeIdsAllocated < maxNodeIds;
    const options: { type: ConfChangeType; nodeId: NodeId }[] = [];
    // Fewer than three voters is allowed but short-lived: growing back is much more likely than shrinking.
    const shrinkChance = voters.length >= 4 ? 1 : voters.length === 3 ? 0.3 : voters.length === 2 ? 0.1 : 0;
    if (learners.length > 0) options.push({ type: ConfChangeType.AddNode, nodeId: random.pick(learners) });
    if (learners.length > 0 && random.chance(0.3))
      options.push({ type: ConfChangeType.RemoveNode, nodeId: random.pick(learners) });
    if (random.chance(shrinkChance)) {
      const removable = voters.length === 2 ? voters.filter((id) => id !== leader.id) : voters;
      if (removable.length > 0)
        options.push({ type: ConfChangeType.RemoveNode, nodeId: random.pick(removable) });
    }
    if (canAdd) {
      const type = random.chance(0.5) ? ConfChangeType.AddNode : ConfChangeType.AddLearnerNode;
      options.push({ type, nodeId: NEW_NODE });
    }
    if (options.length === 0) return undefined;
    const picked = random.pick(options);
    return picked.nodeId === NEW_NODE ? { type: picked.type, nodeId: cluster.allocateNodeId() } : picked;
  }
}
