import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { SeededRandom } from "#runtime";
import { decodeConfChange } from "./conf-change.ts";
import { defaultRaftConfig } from "./config.ts";
import { ProposalDroppedError } from "./errors.ts";
import { MemoryStorage } from "./memory-storage.ts";
import { RawNode } from "./raw-node.ts";
import type { Ready } from "./ready.ts";
import { EntryType, type Message, type NodeId, Role } from "./types.ts";

/**
 * A small randomized cluster with asynchronous persistence (Readys persisted later, in order), reordered
 * and dropped messages, and crashes that lose unpersisted state. It checks the properties the full
 * simulation checks, on a small scale, to exercise the RawNode API the way a store pipelines it.
 */

const IDS: readonly NodeId[] = [1, 2, 3];
const textDecoder = new TextDecoder();

interface ClusterNode {
  readonly id: NodeId;
  readonly storage: MemoryStorage;
  raw: RawNode;
  /** Handed out and advanced, not yet durable; persisted oldest first. */
  unpersisted: Ready[];
  appliedIndex: number;
}

class Cluster {
  readonly nodes = new Map<NodeId, ClusterNode>();
  network: Message[] = [];
  /** index -> "term/data" of every entry any node applied: all must agree. */
  readonly appliedEntries = new Map<number, string>();
  /** term -> leader, to check there is at most one leader per term. */
  readonly leaders = new Map<number, NodeId>();
  private proposalCounter = 0;

  constructor(readonly random: SeededRandom) {
    for (const id of IDS) {
      const storage = new MemoryStorage();
      storage.applySnapshot({
        metadata: { index: 1, term: 1, confState: { voters: [...IDS], learners: [] } },
        data: new Uint8Array(),
      });
      this.nodes.set(id, {
        id,
        storage,
        raw: this.newRawNode(id, storage, 0),
        unpersisted: [],
        appliedIndex: 1,
      });
    }
  }

  private newRawNode(id: NodeId, storage: MemoryStorage, appliedIndex: number): RawNode {
    const forked = this.random.fork();
    return new RawNode(
      { ...defaultRaftConfig(id, forked), maxInflightMessages: 4, maxSizePerMessageBytes: 64, appliedIndex },
      storage,
    );
  }

  handleReady(node: ClusterNode): void {
    const ready = node.raw.ready();
    this.network.push(...ready.messages);
    for (const entry of ready.committedEntries) {
      if (entry.type === EntryType.ConfChange) node.raw.applyConfChange(decodeConfChange(entry.data));
      const rendered = `${entry.term}/${textDecoder.decode(entry.data)}`;
      const earlier = this.appliedEntries.get(entry.index);
      assert.ok(
        earlier === undefined || earlier === rendered,
        `index ${entry.index}: ${earlier} vs ${rendered}`,
      );
      this.appliedEntries.set(entry.index, rendered);
      assert.equal(entry.index, node.appliedIndex + 1, `node ${node.id} applies in order`);
      node.appliedIndex = entry.index;
    }
    node.raw.advance(ready);
    node.unpersisted.push(ready);
  }

  persist(node: ClusterNode, count: number): void {
    const batch = node.unpersisted.splice(0, count);
    if (batch.length === 0) return;
    for (const ready of batch) {
      if (ready.snapshot !== undefined) {
        node.storage.applySnapshot(ready.snapshot);
        node.appliedIndex = ready.snapshot.metadata.index;
      }
      node.storage.append(ready.entries);
      if (ready.hardState !== undefined) node.storage.setHardState(ready.hardState);
    }
    node.raw.onPersisted(batch[batch.length - 1]!.number);
    for (const ready of batch) this.network.push(...ready.persistedMessages);
  }

  crash(node: ClusterNode): void {
    node.unpersisted = [];
    node.raw = this.newRawNode(node.id, node.storage, node.appliedIndex);
    this.network = this.network.filter((message) => message.to !== node.id);
  }

  deliver(position: number): void {
    const [message] = this.network.splice(position, 1);
    this.nodes.get(message!.to)!.raw.step(message!);
  }

  propose(node: ClusterNode): void {
    try {
      node.raw.propose(new TextEncoder().encode(`p${this.proposalCounter++}`));
    } catch (error) {
      if (!(error instanceof ProposalDroppedError)) throw error;
    }
  }

  recordLeaders(): void {
    for (const node of this.nodes.values()) {
      const status = node.raw.status();
      if (status.softState.role !== Role.Leader) continue;
      const known = this.leaders.get(status.hardState.term);
      assert.ok(known === undefined || known === node.id, `two leaders in term ${status.hardState.term}`);
      this.leaders.set(status.hardState.term, node.id);
    }
  }

  randomStep(): void {
    const random = this.random;
    const node = this.nodes.get(random.pick(IDS))!;
    const roll = random.nextFloat();
    if (roll < 0.2) node.raw.tick();
    else if (roll < 0.45 && this.network.length > 0) {
      const position = random.intBelow(this.network.length);
      if (random.chance(0.1)) this.network.splice(position, 1);
      else this.deliver(position);
    } else if (roll < 0.65 && node.raw.hasReady()) this.handleReady(node);
    else if (roll < 0.85) this.persist(node, 1 + random.intBelow(3));
    else if (roll < 0.98) this.propose(node);
    else this.crash(node);
    this.recordLeaders();
  }

  /** Reliable network, everything persisted promptly: the cluster must make progress. */
  settle(rounds: number): void {
    for (let round = 0; round < rounds; round++) {
      for (const node of this.nodes.values()) {
        if (node.raw.hasReady()) this.handleReady(node);
        this.persist(node, node.unpersisted.length);
      }
      const messages = this.network;
      this.network = [];
      for (const message of messages) this.nodes.get(message.to)!.raw.step(message);
      if (round % 5 === 0) for (const node of this.nodes.values()) node.raw.tick();
      this.recordLeaders();
    }
  }
}

describe("RawNode cluster", () => {
  for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
    it(`keeps applied state identical and makes progress (seed ${seed})`, () => {
      const cluster = new Cluster(new SeededRandom(seed));
      for (let step = 0; step < 4000; step++) cluster.randomStep();
      cluster.settle(400);
      const leader = [...cluster.nodes.values()].find(
        (node) => node.raw.status().softState.role === Role.Leader,
      );
      assert.ok(leader !== undefined, "a leader after settling");
      cluster.propose(leader);
      cluster.settle(100);
      const appliedIndexes = [...cluster.nodes.values()].map((node) => node.appliedIndex);
      assert.equal(new Set(appliedIndexes).size, 1, `all nodes applied the same prefix: ${appliedIndexes}`);
      assert.ok(appliedIndexes[0]! > 2, "some proposals were committed");
    });
  }
});
