import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { type GraphDetectResult, WaitForGraph, type WaitForGraphEntry } from "./wait-for-graph.ts";

const TTL_MS = 3_000;
const key = (name: string) => Buffer.from(name);

function edge(txn: number, waitForTxn: number, keyHash = 1) {
  return {
    txn: BigInt(txn),
    waitForTxn: BigInt(waitForTxn),
    keyHash: BigInt(keyHash),
    key: key(`k${keyHash}`),
  };
}

function chainOf(result: GraphDetectResult): string[] {
  assert.equal(result.kind, "deadlock");
  return result.waitChain.map((entry) => `${entry.txn}->${entry.waitForTxn}`);
}

describe("WaitForGraph", () => {
  it("adds edges that close no cycle and refuses the one that would", () => {
    const graph = new WaitForGraph({ ttlMs: TTL_MS });
    assert.equal(graph.detect(edge(1, 2, 12), 0).kind, "no-deadlock");
    assert.equal(graph.detect(edge(2, 3, 23), 0).kind, "no-deadlock");
    const result = graph.detect(edge(3, 1, 31), 0);
    assert.deepEqual(chainOf(result), ["1->2", "2->3"]);
    assert.equal(result.kind === "deadlock" && result.deadlockKeyHash, 23n);
    assert.deepEqual(result.kind === "deadlock" && result.deadlockKey, key("k23"));
    assert.equal(graph.size, 2, "the refused edge is not added");
  });

  it("a transaction waiting for itself is a deadlock with an empty chain", () => {
    const graph = new WaitForGraph();
    const result = graph.detect(edge(5, 5, 7), 0);
    assert.deepEqual(chainOf(result), []);
    assert.equal(result.kind === "deadlock" && result.deadlockKeyHash, 7n);
    assert.equal(graph.size, 0);
  });

  it("a second key on an existing edge and a repeated key are taken without a search", () => {
    const graph = new WaitForGraph();
    graph.detect(edge(1, 2, 1), 0);
    assert.equal(graph.detect(edge(1, 2, 2), 0).kind, "no-deadlock");
    assert.equal(graph.detect(edge(1, 2, 2), 10).kind, "no-deadlock");
    assert.equal(graph.size, 2);
    assert.deepEqual(chainOf(graph.detect(edge(2, 1, 3), 10)), ["1->2"]);
  });

  it("reports the first key of the edge that closes the cycle, as TiKV does", () => {
    const graph = new WaitForGraph();
    graph.detect(edge(1, 2, 20), 0);
    graph.detect(edge(1, 2, 21), 0);
    const result = graph.detect(edge(2, 1, 9), 0);
    assert.equal(result.kind === "deadlock" && result.deadlockKeyHash, 20n);
  });

  it("edges expire ttl after their last refresh", () => {
    const graph = new WaitForGraph({ ttlMs: TTL_MS });
    graph.detect(edge(1, 2), 0);
    graph.detect(edge(2, 3), 0);
    graph.detect(edge(2, 3), 2_000);
    // 1->2 expired at 3000; 2->3 lives until 5000.
    assert.equal(graph.detect(edge(2, 1), 3_000).kind, "no-deadlock");
    graph.removeEdge(2n, 1n, 1n);
    assert.deepEqual(chainOf(graph.detect(edge(3, 2), 4_999)), ["2->3"]);
    assert.equal(graph.detect(edge(3, 2), 5_000).kind, "no-deadlock");
    assert.deepEqual(
      graph.entries(5_000).map((entry) => `${entry.txn}->${entry.waitForTxn}`),
      ["3->2"],
    );
  });

  it("removes one key's edge, or every edge of a transaction", () => {
    const graph = new WaitForGraph();
    graph.detect(edge(1, 2, 1), 0);
    graph.detect(edge(1, 2, 2), 0);
    graph.detect(edge(1, 3, 3), 0);
    graph.detect(edge(4, 1, 4), 0);
    assert.equal(graph.removeEdge(1n, 2n, 1n), true);
    assert.equal(graph.removeEdge(1n, 2n, 1n), false);
    assert.equal(graph.removeEdge(9n, 2n, 1n), false);
    assert.equal(graph.size, 3);
    assert.equal(graph.removeTxn(1n), 2);
    assert.equal(graph.removeTxn(1n), 0);
    assert.equal(graph.size, 1);
    assert.equal(graph.detect(edge(2, 4), 0).kind, "no-deadlock", "no path 4->1->2 is left");
    graph.clear();
    assert.equal(graph.size, 0);
    assert.deepEqual(graph.entries(0), []);
  });

  it("refuses a new edge when full, after dropping expired ones, but still finds cycles", () => {
    const graph = new WaitForGraph({ ttlMs: TTL_MS, maxEntries: 2 });
    graph.detect(edge(1, 2), 0);
    graph.detect(edge(2, 3), 1_000);
    assert.deepEqual(graph.detect(edge(5, 6), 1_000), { kind: "graph-full", maxEntries: 2 });
    assert.deepEqual(chainOf(graph.detect(edge(3, 1), 1_000)), ["1->2", "2->3"]);
    assert.equal(graph.detect(edge(2, 3), 2_000).kind, "no-deadlock", "a refresh needs no room");
    assert.equal(graph.detect(edge(5, 6), 3_000).kind, "no-deadlock", "1->2 expired and made room");
    assert.equal(graph.size, 2);
  });

  it("records when an edge was first added", () => {
    const graph = new WaitForGraph();
    graph.detect(edge(1, 2), 100);
    graph.detect(edge(1, 2), 900);
    const [entry] = graph.entries(1_000);
    assert.equal(entry?.addedAtMs, 100);
  });

  it("rejects a bad TTL or bound", () => {
    assert.throws(() => new WaitForGraph({ ttlMs: 0 }), RangeError);
    assert.throws(() => new WaitForGraph({ maxEntries: 0 }), RangeError);
    assert.throws(() => new WaitForGraph({ maxEntries: 1.5 }), RangeError);
  });
});

/**
 * A straightforward model: a list of edges with their refresh times, and a reachability search over the
 * live ones. The graph must agree with it on every answer.
 */
class ModelGraph {
  private edges: { txn: bigint; waitForTxn: bigint; keyHash: bigint; refreshedAtMs: number }[] = [];

  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries: number,
  ) {}

  /** Drops expired edges and returns the rest (a fresh array: do not keep it across calls). */
  live(nowMs: number) {
    this.edges = this.edges.filter((entry) => nowMs - entry.refreshedAtMs < this.ttlMs);
    return this.edges;
  }

  reaches(from: bigint, to: bigint, nowMs: number): boolean {
    const seen = new Set<bigint>([from]);
    const stack = [from];
    for (let current = stack.pop(); current !== undefined; current = stack.pop()) {
      for (const entry of this.live(nowMs)) {
        if (entry.txn !== current) continue;
        if (entry.waitForTxn === to) return true;
        if (!seen.has(entry.waitForTxn)) {
          seen.add(entry.waitForTxn);
          stack.push(entry.waitForTxn);
        }
      }
    }
    return false;
  }

  detect(txn: bigint, waitForTxn: bigint, keyHash: bigint, nowMs: number): GraphDetectResult["kind"] {
    const live = this.live(nowMs);
    if (txn === waitForTxn) return "deadlock";
    const same = live.find((e) => e.txn === txn && e.waitForTxn === waitForTxn && e.keyHash === keyHash);
    if (same !== undefined) {
      same.refreshedAtMs = nowMs;
      return "no-deadlock";
    }
    const pairKnown = live.some((e) => e.txn === txn && e.waitForTxn === waitForTxn);
    if (!pairKnown && this.reaches(waitForTxn, txn, nowMs)) return "deadlock";
    if (this.live(nowMs).length >= this.maxEntries) return "graph-full";
    this.edges.push({ txn, waitForTxn, keyHash, refreshedAtMs: nowMs });
    return "no-deadlock";
  }

  has(txn: bigint, waitForTxn: bigint, nowMs: number): boolean {
    return this.live(nowMs).some((entry) => entry.txn === txn && entry.waitForTxn === waitForTxn);
  }

  remove(txn: bigint, waitForTxn: bigint, keyHash: bigint): void {
    this.edges = this.edges.filter(
      (e) => !(e.txn === txn && e.waitForTxn === waitForTxn && e.keyHash === keyHash),
    );
  }

  removeTxn(txn: bigint): void {
    this.edges = this.edges.filter((entry) => entry.txn !== txn);
  }

  acyclic(nowMs: number): boolean {
    return this.live(nowMs).every((entry) => !this.reaches(entry.waitForTxn, entry.txn, nowMs));
  }
}

type Operation =
  | { readonly kind: "detect"; readonly txn: number; readonly waitForTxn: number; readonly keyHash: number }
  | { readonly kind: "remove"; readonly txn: number; readonly waitForTxn: number; readonly keyHash: number }
  | { readonly kind: "remove-txn"; readonly txn: number }
  | { readonly kind: "advance"; readonly ms: number };

/** Few transactions and keys, so cycles, repeated edges and second keys on one edge are all common. */
const txnId = fc.integer({ min: 1, max: 7 });
const keyId = fc.integer({ min: 1, max: 3 });
const operation: fc.Arbitrary<Operation> = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.record({ kind: fc.constant("detect"), txn: txnId, waitForTxn: txnId, keyHash: keyId }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant("remove"), txn: txnId, waitForTxn: txnId, keyHash: keyId }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("remove-txn"), txn: txnId }) },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant("advance"), ms: fc.integer({ min: 0, max: 2_000 }) }),
  },
);

function checkChain(
  waitChain: readonly WaitForGraphEntry[],
  txn: bigint,
  waitForTxn: bigint,
  model: ModelGraph,
  nowMs: number,
): void {
  if (txn === waitForTxn) {
    assert.deepEqual(waitChain, []);
    return;
  }
  assert.ok(waitChain.length > 0);
  assert.equal(waitChain[0]!.txn, waitForTxn, "the chain starts where the new edge points");
  assert.equal(waitChain.at(-1)!.waitForTxn, txn, "the chain ends at the waiter");
  waitChain.forEach((entry, index) => {
    assert.ok(model.has(entry.txn, entry.waitForTxn, nowMs), `chain edge ${index} is a live edge`);
    if (index > 0) assert.equal(waitChain[index - 1]!.waitForTxn, entry.txn, "the chain is connected");
  });
}

describe("WaitForGraph against a model (fast-check prints the seed and path of a failure to replay)", () => {
  const scenario = fc.record({
    maxEntries: fc.integer({ min: 1, max: 12 }),
    operations: fc.array(operation, { maxLength: 120 }),
  });

  it("reports a cycle iff the new edge closes one, stays acyclic and within its bound", () => {
    fc.assert(
      fc.property(scenario, ({ maxEntries, operations }) => {
        const graph = new WaitForGraph({ ttlMs: TTL_MS, maxEntries });
        const model = new ModelGraph(TTL_MS, maxEntries);
        let nowMs = 0;
        for (const step of operations) {
          if (step.kind === "advance") {
            nowMs += step.ms;
          } else if (step.kind === "remove-txn") {
            graph.removeTxn(BigInt(step.txn));
            model.removeTxn(BigInt(step.txn));
          } else if (step.kind === "remove") {
            const [txn, waitForTxn, keyHash] = [
              BigInt(step.txn),
              BigInt(step.waitForTxn),
              BigInt(step.keyHash),
            ];
            graph.removeEdge(txn, waitForTxn, keyHash);
            model.remove(txn, waitForTxn, keyHash);
          } else {
            const [txn, waitForTxn, keyHash] = [
              BigInt(step.txn),
              BigInt(step.waitForTxn),
              BigInt(step.keyHash),
            ];
            const result = graph.detect({ txn, waitForTxn, keyHash, key: key(`k${step.keyHash}`) }, nowMs);
            assert.equal(result.kind, model.detect(txn, waitForTxn, keyHash, nowMs), JSON.stringify(step));
            if (result.kind === "deadlock") checkChain(result.waitChain, txn, waitForTxn, model, nowMs);
          }
          assert.ok(graph.size <= maxEntries, `size ${graph.size} over the bound ${maxEntries}`);
          assert.equal(graph.entries(nowMs).length, model.live(nowMs).length);
          assert.ok(model.acyclic(nowMs), "the graph holds a cycle");
        }
      }),
      { numRuns: 300 },
    );
  });
});
