import { decodeConfChange } from "../conf-change.ts";
import type { RaftConfig } from "../config.ts";
import { describeConfState, describeEntry, describeMessage, describeReady, roleName } from "../describe.ts";
import type { InjectedBug } from "../injected-bug.ts";
import { MemoryStorage } from "../memory-storage.ts";
import { RawNode } from "../raw-node.ts";
import type { Ready } from "../ready.ts";
import {
  type ConfState,
  EMPTY_BYTES,
  EntryType,
  type Message,
  type NodeId,
  type Snapshot,
} from "../types.ts";

/** Options of the nodes a scenario creates (etcd raft's test defaults: heartbeat 1, election 10). */
export interface ScenarioNodeOptions {
  readonly electionTicks: number;
  readonly heartbeatTicks: number;
  readonly preVote: boolean;
  readonly checkQuorum: boolean;
  readonly leaseRead: boolean;
  readonly maxSizePerMessageBytes: number;
  readonly maxInflightMessages: number;
  readonly leaseTicks: number | undefined;
  readonly injectedBugs: readonly InjectedBug[];
}

export const DEFAULT_SCENARIO_NODE_OPTIONS: ScenarioNodeOptions = {
  electionTicks: 10,
  heartbeatTicks: 1,
  preVote: false,
  checkQuorum: false,
  leaseRead: false,
  maxSizePerMessageBytes: Number.MAX_SAFE_INTEGER,
  maxInflightMessages: 256,
  leaseTicks: undefined,
  injectedBugs: [],
};

/**
 * One simulated node. `storage` is its disk and the applied fields its state machine: both survive
 * `restart`; everything else (the RawNode) is volatile.
 */
export interface ScenarioNode {
  readonly id: NodeId;
  readonly storage: ScenarioStorage;
  readonly options: ScenarioNodeOptions;
  raw: RawNode;
  appliedIndex: number;
  confState: ConfState;
  appliedData: string[];
}

/**
 * A node's disk. Like a real store it builds a snapshot on demand, of the state machine as applied now,
 * when the leader needs one for a follower whose entries are compacted away.
 */
class ScenarioStorage extends MemoryStorage {
  stateMachine: ScenarioNode | undefined;

  override snapshot(): Snapshot {
    const node = this.stateMachine;
    if (node !== undefined && node.appliedIndex > super.snapshot().metadata.index) {
      this.createSnapshot(
        node.appliedIndex,
        node.confState,
        textEncoder.encode(JSON.stringify(node.appliedData)),
      );
    }
    return super.snapshot();
  }
}

/** Upper bound of stabilize rounds; a scenario that needs more is looping. */
const MAX_STABILIZE_ROUNDS = 1000;

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder();

function formatField(value: unknown): string {
  if (Array.isArray(value)) return `(${value.join(" ")})`;
  return String(value);
}

/**
 * A deterministic cluster of RawNodes for scenario tests: an in-order message queue, partitions, and
 * synchronous "disks". The only randomness (the election timeout) is pinned to electionTicks.
 */
export class ScenarioEnvironment {
  readonly nodes = new Map<NodeId, ScenarioNode>();
  messages: Message[] = [];
  private partitionGroups: readonly (readonly NodeId[])[] = [];
  /** Pinned "random" part of each node's election timeout (default 0: the timeout is electionTicks). */
  readonly electionJitter = new Map<NodeId, number>();
  private output: string[] = [];
  private indent = "";
  logEnabled = false;

  takeOutput(): string {
    const text = this.output.join("\n");
    this.output = [];
    return text;
  }

  print(text: string): void {
    for (const line of text.split("\n")) this.output.push(`${this.indent}${line}`);
  }

  withIndent(action: () => void): void {
    const previous = this.indent;
    this.indent += "  ";
    try {
      action();
    } finally {
      this.indent = previous;
    }
  }

  node(id: NodeId): ScenarioNode {
    const node = this.nodes.get(id);
    if (node === undefined) throw new Error(`no node ${id}`);
    return node;
  }

  raftConfig(id: NodeId, options: ScenarioNodeOptions, appliedIndex: number): RaftConfig {
    return {
      id,
      electionTicks: options.electionTicks,
      heartbeatTicks: options.heartbeatTicks,
      preVote: options.preVote,
      checkQuorum: options.checkQuorum,
      leaseRead: options.leaseRead,
      leaseTicks: options.leaseTicks,
      maxSizePerMessageBytes: options.maxSizePerMessageBytes,
      maxInflightMessages: options.maxInflightMessages,
      appliedIndex,
      injectedBugs: options.injectedBugs,
      random: { intBelow: (bound) => Math.min(this.electionJitter.get(id) ?? 0, bound - 1) },
      logger: (event, fields) => {
        if (!this.logEnabled) return;
        const rendered = Object.entries(fields)
          .map(([key, value]) => ` ${key}=${formatField(value)}`)
          .join("");
        this.print(`INFO ${id} ${event}${rendered}`);
      },
    };
  }

  addNode(id: NodeId, options: ScenarioNodeOptions, bootstrap: ConfState | undefined, index: number): void {
    const storage = new ScenarioStorage();
    let appliedIndex = 0;
    let confState: ConfState = { voters: [], learners: [] };
    if (bootstrap !== undefined && index > 0) {
      storage.applySnapshot({
        metadata: { index, term: 1, confState: bootstrap },
        data: textEncoder.encode("[]"),
      });
      appliedIndex = index;
      confState = bootstrap;
    }
    const raw = new RawNode(this.raftConfig(id, options, appliedIndex), storage);
    const node: ScenarioNode = { id, storage, options, raw, appliedIndex, confState, appliedData: [] };
    storage.stateMachine = node;
    this.nodes.set(id, node);
  }

  /** Volatile state is lost; the node comes back from its storage and applied state. */
  restart(id: NodeId): void {
    const node = this.node(id);
    node.raw = new RawNode(this.raftConfig(id, node.options, node.appliedIndex), node.storage);
  }

  setPartition(groups: readonly (readonly NodeId[])[]): void {
    this.partitionGroups = groups;
  }

  private partitioned(from: NodeId, to: NodeId): boolean {
    const fromGroup = this.partitionGroups.findIndex((group) => group.includes(from));
    const toGroup = this.partitionGroups.findIndex((group) => group.includes(to));
    return fromGroup >= 0 && toGroup >= 0 && fromGroup !== toGroup;
  }

  /** Queues what `sender` sends; `message.from` may name another node (a forwarded transfer request). */
  private enqueue(sender: NodeId, messages: readonly Message[]): void {
    for (const message of messages) {
      if (!this.partitioned(sender, message.to)) this.messages.push(message);
    }
  }

  /** Hands out one Ready and does what the application would: persist, send, apply, advance. */
  processReady(id: NodeId): void {
    const node = this.node(id);
    const ready = node.raw.ready();
    this.print(describeReady(ready));
    this.persist(node, ready);
    node.raw.onPersisted(ready.number);
    this.enqueue(id, ready.messages);
    this.enqueue(id, ready.persistedMessages);
    this.apply(node, ready);
    node.raw.advance(ready);
  }

  private persist(node: ScenarioNode, ready: Ready): void {
    if (ready.snapshot !== undefined) {
      node.storage.applySnapshot(ready.snapshot);
      node.appliedIndex = ready.snapshot.metadata.index;
      node.confState = ready.snapshot.metadata.confState;
      node.appliedData = JSON.parse(textDecoder.decode(ready.snapshot.data)) as string[];
    }
    node.storage.append(ready.entries);
    if (ready.hardState !== undefined) node.storage.setHardState(ready.hardState);
  }

  private apply(node: ScenarioNode, ready: Ready): void {
    for (const entry of ready.committedEntries) {
      if (entry.type === EntryType.ConfChange) {
        node.confState = node.raw.applyConfChange(decodeConfChange(entry.data));
        node.storage.setConfState(node.confState);
      } else if (entry.data.byteLength > 0) {
        node.appliedData.push(textDecoder.decode(entry.data));
      }
      node.appliedIndex = entry.index;
    }
  }

  /** Snapshots the state machine at its applied index, then discards the log up to `index`. */
  compact(id: NodeId, index: number): void {
    const storage = this.node(id).storage;
    storage.snapshot();
    storage.compact(index);
  }

  /** Delivers the queued messages addressed to `id`, in order; returns how many. */
  deliver(id: NodeId): number {
    const delivered = this.messages.filter((message) => message.to === id);
    this.messages = this.messages.filter((message) => message.to !== id);
    for (const message of delivered) {
      this.print(describeMessage(message));
      try {
        this.node(id).raw.step(message);
      } catch (error) {
        this.print(`error: ${(error as Error).message}`);
      }
    }
    return delivered.length;
  }

  dropMessagesTo(id: NodeId): void {
    for (const message of this.messages) {
      if (message.to === id) this.print(`dropped: ${describeMessage(message)}`);
    }
    this.messages = this.messages.filter((message) => message.to !== id);
  }

  /** Processes Readys and delivers messages among `ids` until nothing changes. */
  stabilize(ids: readonly NodeId[]): void {
    for (let round = 0; round < MAX_STABILIZE_ROUNDS; round++) {
      let done = true;
      for (const id of ids) {
        if (!this.node(id).raw.hasReady()) continue;
        done = false;
        this.print(`> ${id} handling Ready`);
        this.withIndent(() => this.processReady(id));
      }
      for (const id of ids) {
        if (!this.messages.some((message) => message.to === id)) continue;
        done = false;
        this.print(`> ${id} receiving messages`);
        this.withIndent(() => this.deliver(id));
      }
      if (done) return;
    }
    throw new Error(`did not stabilize within ${MAX_STABILIZE_ROUNDS} rounds`);
  }

  describeRaftState(): string {
    const lines: string[] = [];
    for (const node of this.nodes.values()) {
      const status = node.raw.status();
      const membership = status.confState.voters.includes(node.id)
        ? "Voter"
        : status.confState.learners.includes(node.id)
          ? "Learner"
          : "Non-Voter";
      lines.push(
        `${node.id}: ${roleName(status.softState.role)} (${membership}) Term:${status.hardState.term} Lead:${status.softState.leaderId}`,
      );
    }
    return lines.join("\n");
  }

  describeStatus(id: NodeId): string {
    const status = this.node(id).raw.status();
    const { term, vote, commit } = status.hardState;
    const lines = [
      `${id}: ${roleName(status.softState.role)} Term:${term} Vote:${vote} Commit:${commit} Applied:${status.applied}` +
        ` LastIndex:${status.lastIndex} Lead:${status.softState.leaderId} LeadTransferee:${status.leadTransferee}` +
        ` LeaseTicks:${status.leaseRemainingTicks}`,
      describeConfState(status.confState),
    ];
    for (const [member, progress] of status.progress ?? []) {
      let line = `${member}: ${progress.state} match=${progress.match} next=${progress.next}`;
      if (progress.isLearner) line += " learner";
      if (progress.paused) line += " paused";
      if (progress.pendingSnapshot > 0) line += ` pendingSnap=${progress.pendingSnapshot}`;
      if (!progress.recentActive) line += " inactive";
      if (progress.inflightMessages > 0) line += ` inflight=${progress.inflightMessages}`;
      lines.push(line);
    }
    return lines.join("\n");
  }

  describeLog(id: NodeId): string {
    const storage = this.node(id).storage;
    const first = storage.firstIndex();
    const last = storage.lastIndex();
    if (last < first) return `log is empty: first index=${first}, last index=${last}`;
    return storage
      .entries(first, last + 1, Number.MAX_SAFE_INTEGER)
      .map(describeEntry)
      .join("\n");
  }

  describeApplied(id: NodeId): string {
    const node = this.node(id);
    return `${id}: applied=${node.appliedIndex} data=[${node.appliedData.join(" ")}]`;
  }

  encode(text: string): Uint8Array {
    return text === "" ? EMPTY_BYTES : textEncoder.encode(text);
  }
}
