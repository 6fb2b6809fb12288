/**
 * The simulated cluster: node hosts wired to one simulated network, created at bootstrap or when a
 * conf change adding them is applied, and destroyed once their removal is applied everywhere it matters
 * (ids are never reused, as in etcd and TiKV). Crash and restart go through here so the network and the
 * hosts agree on who is up.
 */
import {
  type ConfChange,
  ConfChangeType,
  type ConfState,
  type Message,
  MessageType,
  type NodeId,
  type Snapshot,
} from "#raft";
import type { Random } from "#runtime";
import type { NetworkEvent, Scheduler, SimNetwork } from "#sim";
import { encodeSnapshotData } from "./applied-state.ts";
import type { RunCounters, Trace } from "./history.ts";
import type { InvariantChecker } from "./invariants.ts";
import { type NodeEvents, NodeHost, type NodeSettings } from "./node-host.ts";

/** Like TiKV's first region: the log starts after a snapshot at this index and term. */
export const BOOTSTRAP_INDEX = 5;
export const BOOTSTRAP_TERM = 5;
const BOOTSTRAP_HASH = 0x5eed;

export interface ClusterOptions {
  readonly nodeCount: number;
  readonly scheduler: Scheduler;
  readonly network: SimNetwork<Message>;
  readonly checker: InvariantChecker;
  readonly trace: Trace;
  readonly counters: RunCounters;
  readonly settings: NodeSettings;
  readonly random: Random;
  /** Where the nemesis hooks in. */
  readonly events: NodeEvents;
  readonly onProposalApplied: (proposalId: number, index: number) => void;
}

interface PendingRemoval {
  readonly node: NodeId;
  /** Index of the conf change entry that removed it. */
  readonly index: number;
  /** The voters after the removal. */
  readonly survivors: readonly NodeId[];
}

export class SimCluster {
  private readonly hosts = new Map<NodeId, NodeHost>();
  private readonly everCreated = new Set<NodeId>();
  private nextNodeId: number;
  private lastConfChangeIndex = 0;
  private readonly pendingRemovals = new Map<NodeId, PendingRemoval>();

  constructor(private readonly options: ClusterOptions) {
    const voters = Array.from({ length: options.nodeCount }, (_, index) => index + 1);
    this.nextNodeId = options.nodeCount + 1;
    const snapshot: Snapshot = {
      metadata: { index: BOOTSTRAP_INDEX, term: BOOTSTRAP_TERM, confState: { voters, learners: [] } },
      data: encodeSnapshotData(BOOTSTRAP_INDEX, BOOTSTRAP_HASH),
    };
    for (const id of voters) this.createHost(id).bootstrap(snapshot);
    for (const id of voters) this.hosts.get(id)!.start();
    options.network.observe((event) => this.reportDelivery(event));
  }

  /** Hosts in id order, up or down. */
  members(): NodeHost[] {
    return [...this.hosts.values()];
  }

  host(id: NodeId): NodeHost | undefined {
    return this.hosts.get(id);
  }

  upHosts(): NodeHost[] {
    return this.members().filter((host) => host.isUp);
  }

  downHosts(): NodeHost[] {
    return this.members().filter((host) => !host.isUp);
  }

  /** The running node that believes it leads the highest term, if any. */
  leader(): NodeHost | undefined {
    let best: NodeHost | undefined;
    for (const host of this.hosts.values()) {
      if (host.isLeader && (best === undefined || host.currentTerm > best.currentTerm)) best = host;
    }
    return best;
  }

  /** An id no node ever had, for a node a conf change is about to add. */
  allocateNodeId(): NodeId {
    return this.nextNodeId++;
  }

  get nodeIdsAllocated(): number {
    return this.nextNodeId - 1;
  }

  crash(id: NodeId): void {
    const host = this.hosts.get(id);
    if (host === undefined || !host.isUp) return;
    host.crash();
    this.options.network.nodeDown(id);
    this.options.counters.crashes++;
    this.options.trace.record(id, "crash");
  }

  restart(id: NodeId): void {
    const host = this.hosts.get(id);
    if (host === undefined || host.isUp) return;
    this.options.network.nodeUp(id);
    this.options.counters.restarts++;
    this.options.trace.record(id, "restart");
    host.start();
  }

  private createHost(id: NodeId): NodeHost {
    const options = this.options;
    const host = new NodeHost(
      id,
      {
        scheduler: options.scheduler,
        network: options.network,
        checker: options.checker,
        trace: options.trace,
        counters: options.counters,
        settings: options.settings,
        confChangeApplied: (node, change, index, confState) =>
          this.confChangeApplied(node, change, index, confState),
        proposalApplied: options.onProposalApplied,
        events: options.events,
      },
      options.random.fork(),
    );
    this.hosts.set(id, host);
    this.everCreated.add(id);
    options.network.addNode(id, (message) => host.receive(message));
    return host;
  }

  /**
   * The first node to apply a membership change makes it real: an added node is created empty (the leader
   * fills it with a snapshot, deferred to its own event so no node appears in the middle of another's
   * Ready); a removed one is destroyed later, by collectRemovedNodes.
   */
  private confChangeApplied(node: NodeId, change: ConfChange, index: number, confState: ConfState): void {
    if (index > this.lastConfChangeIndex) {
      this.lastConfChangeIndex = index;
      this.options.counters.confChangesApplied++;
    }
    const target = change.nodeId;
    if (change.type === ConfChangeType.RemoveNode) {
      if (!this.hosts.has(target) || this.pendingRemovals.has(target)) return;
      this.pendingRemovals.set(target, { node: target, index, survivors: confState.voters });
      this.options.trace.record(target, "removed", `(applied by node ${node} at index ${index})`);
      return;
    }
    if (this.everCreated.has(target)) return;
    this.everCreated.add(target);
    this.options.scheduler.schedule(0, () => this.createEmpty(target, node), "create node");
  }

  /**
   * Destroys each removed node once every surviving voter has durably applied its removal, as a store
   * garbage-collects a removed peer. Destroying it earlier can wedge a group for good: a survivor that
   * crashes before it persisted the removal's commit restarts with the old membership and needs the
   * removed node's vote (with two voters, it has no quorum without it).
   */
  collectRemovedNodes(): void {
    for (const removal of this.pendingRemovals.values()) {
      const settled = removal.survivors.every((id) => {
        const survivor = this.hosts.get(id);
        return survivor === undefined || survivor.durableAppliedIndex >= removal.index;
      });
      if (!settled) continue;
      this.pendingRemovals.delete(removal.node);
      this.destroy(removal.node);
    }
  }

  private createEmpty(id: NodeId, appliedBy: NodeId): void {
    this.options.counters.nodesAdded++;
    this.options.trace.record(id, "created", `(conf change applied by node ${appliedBy})`);
    this.createHost(id).start();
  }

  private destroy(id: NodeId): void {
    const host = this.hosts.get(id);
    if (host === undefined) return;
    host.crash();
    this.hosts.delete(id);
    this.options.network.removeNode(id);
    this.options.checker.forgetNode(id);
    this.options.counters.nodesRemoved++;
    this.options.trace.record(id, "destroyed");
  }

  /**
   * Tells the sender how its snapshot stream ended, as a store's snapshot sender would, and reports a peer
   * unreachable when an append to it is lost (the transport noticed the broken connection).
   */
  private reportDelivery(event: NetworkEvent<Message>): void {
    const message = event.envelope.message;
    if (message.type === MessageType.Snapshot) {
      const status = event.kind === "deliver" ? "finish" : "failure";
      this.options.scheduler.schedule(
        0,
        () => this.hosts.get(message.from)?.reportSnapshot(message.to, status),
        "snapshot status",
      );
    } else if (event.kind === "drop" && message.type === MessageType.Append) {
      this.options.scheduler.schedule(
        0,
        () => this.hosts.get(message.from)?.reportUnreachable(message.to),
        "unreachable",
      );
    }
  }
}
