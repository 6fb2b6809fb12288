/**
 * A raft group driven as fast as one thread allows: every node in this process, stable storage in
 * memory, and "persisting" a Ready is appending to that memory followed at once by `onPersisted`. There is
 * no network or disk latency, so what is measured is the raft core plus the minimal driver work per
 * entry (copying entries into storage, routing messages, applying).
 */
import {
  type Entry,
  EntryType,
  MemoryStorage,
  type Message,
  ProposalDroppedError,
  type RaftConfig,
  RawNode,
  type Ready,
  Role,
} from "#raft";
import { SeededRandom } from "#runtime";

const BOOTSTRAP_INDEX = 5;
const BOOTSTRAP_TERM = 5;
/** Compact the logs once every node applied this many entries past the last compaction. */
const COMPACTION_INTERVAL_ENTRIES = 100_000;
// Electing the first leader takes a few dozen message exchanges; far more means something is wrong.
const MAX_ELECTION_ROUNDS = 1000;

export class NoLeaderError extends Error {
  override readonly name = "NoLeaderError";
  constructor(rounds: number) {
    super(`no leader after ${rounds} rounds of message delivery`);
  }
}

class BenchNode {
  readonly storage = new MemoryStorage();
  readonly raft: RawNode;
  inbox: Message[] = [];
  appliedIndex = BOOTSTRAP_INDEX;
  appliedEntries = 0;

  constructor(
    readonly id: number,
    voters: readonly number[],
    config: Omit<RaftConfig, "id" | "random">,
  ) {
    this.storage.applySnapshot({
      metadata: { index: BOOTSTRAP_INDEX, term: BOOTSTRAP_TERM, confState: { voters, learners: [] } },
      data: new Uint8Array(0),
    });
    this.storage.setHardState({ term: BOOTSTRAP_TERM, vote: 0, commit: BOOTSTRAP_INDEX });
    this.raft = new RawNode({ ...config, id, random: new SeededRandom(id) }, this.storage);
  }
}

export class InMemoryCluster {
  private readonly nodes: BenchNode[];
  private compactedUpTo = BOOTSTRAP_INDEX;

  constructor(nodeCount: number, config: Omit<RaftConfig, "id" | "random">) {
    const voters = Array.from({ length: nodeCount }, (_, index) => index + 1);
    this.nodes = voters.map((id) => new BenchNode(id, voters, config));
  }

  get leader(): RawNode {
    return this.nodes[0]!.raft;
  }

  /** Entries the leader applied that carried a proposal (not its empty first entry of the term). */
  get committedProposals(): number {
    return this.nodes[0]!.appliedEntries;
  }

  /** Proposal entries applied by each node, in id order. */
  appliedProposalsPerNode(): number[] {
    return this.nodes.map((node) => node.appliedEntries);
  }

  /** Delivers until every node applied everything the leader has (bounded by `maxRounds`). */
  settle(maxRounds: number): void {
    for (let round = 0; round < maxRounds; round++) {
      this.deliverRound();
      const applied = this.appliedProposalsPerNode();
      if (applied.every((count) => count === applied[0]) && !this.nodes.some((node) => node.raft.hasReady()))
        return;
    }
  }

  /**
   * Makes node 1 the leader. A freshly started node refuses votes for one election timeout (it may have
   * been a follower of a leader whose lease is still running), so the nodes tick through it first.
   */
  elect(electionTicks: number): void {
    for (let tick = 0; tick < electionTicks; tick++) {
      for (const node of this.nodes) node.raft.tick();
    }
    this.leader.campaign();
    for (let round = 0; round < MAX_ELECTION_ROUNDS; round++) {
      this.deliverRound();
      if (this.leader.status().softState.role === Role.Leader) return;
    }
    throw new NoLeaderError(MAX_ELECTION_ROUNDS);
  }

  /** Proposes `data` on the leader; returns false when raft dropped it (flow control). */
  propose(data: Uint8Array): boolean {
    try {
      this.leader.propose(data);
      return true;
    } catch (error) {
      if (error instanceof ProposalDroppedError) return false;
      throw error;
    }
  }

  /** One loop turn: every node handles its Readys, then takes the messages delivered to it. */
  deliverRound(): void {
    for (const node of this.nodes) {
      this.handleReadys(node);
      const inbox = node.inbox;
      node.inbox = [];
      for (const message of inbox) node.raft.step(message);
      this.handleReadys(node);
    }
    this.maybeCompact();
  }

  private handleReadys(node: BenchNode): void {
    while (node.raft.hasReady()) {
      const ready = node.raft.ready();
      this.route(ready.messages);
      this.persist(node, ready);
      node.raft.onPersisted(ready.number);
      this.route(ready.persistedMessages);
      this.apply(node, ready.committedEntries);
      node.raft.advance(ready);
    }
  }

  private persist(node: BenchNode, ready: Ready): void {
    if (ready.snapshot !== undefined) node.storage.applySnapshot(ready.snapshot);
    node.storage.append(ready.entries);
    if (ready.hardState !== undefined) node.storage.setHardState(ready.hardState);
  }

  private route(messages: readonly Message[]): void {
    for (const message of messages) this.nodes[message.to - 1]!.inbox.push(message);
  }

  private apply(node: BenchNode, entries: readonly Entry[]): void {
    for (const entry of entries) {
      if (entry.type === EntryType.Normal && entry.data.length > 0) node.appliedEntries++;
    }
    if (entries.length > 0) node.appliedIndex = entries[entries.length - 1]!.index;
  }

  /** Keeps memory flat on long runs: compacts every log up to what every node has applied. */
  private maybeCompact(): void {
    let applied = Number.POSITIVE_INFINITY;
    for (const node of this.nodes) applied = Math.min(applied, node.appliedIndex);
    if (applied - this.compactedUpTo < COMPACTION_INTERVAL_ENTRIES) return;
    for (const node of this.nodes) {
      const confState = node.raft.status().confState;
      node.storage.createSnapshot(applied, confState, new Uint8Array(0));
      node.storage.compact(applied);
    }
    this.compactedUpTo = applied;
  }
}
