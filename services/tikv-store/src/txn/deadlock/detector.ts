/**
 * The cluster's deadlock detector (TiKV's `Detector` in its leader role). Exactly one store runs it: the
 * one whose peer leads the cluster's first region, the region whose start key is empty. The store tells
 * it with `setRole` whenever that changes; every other store's detector client sends its wait-for edges
 * here (deadlock-service.ts), and this store's own client calls it directly.
 *
 * Victim: the waiter whose DETECT finds the cycle, as in TiKV. Its edge is the one refused, so the graph
 * stays acyclic and every other waiter of the cycle keeps an edge that is true; the answer goes back on
 * the request that asked, with no message to a store that did not ask and no race with a victim that was
 * woken meanwhile. It is also the "youngest waiter" of the transactions brief, read as the waiter that
 * began waiting last: the one whose wait closed the cycle.
 *
 * A change of role clears the graph. A new detector starts empty and learns the edges again from the
 * waiters' periodic refreshes (lock-wait-manager.ts); a store that lost the role must not answer from a
 * graph it no longer receives clean-ups for.
 */
import type { Logger } from "#observability";
import type { deadlock } from "#proto";
import type { Clock } from "#runtime";
import {
  type GraphDetectResult,
  type WaitForEdge,
  WaitForGraph,
  type WaitForGraphEntry,
  type WaitForGraphOptions,
} from "./wait-for-graph.ts";

/** A cycle found: what the victim's deadlock error reports. */
export interface DeadlockFound {
  readonly kind: "deadlock";
  /** Hash of the key, locked by the requesting transaction, that the last waiter of the chain wants. */
  readonly deadlockKeyHash: bigint;
  readonly deadlockKey: Uint8Array;
  /** The rest of the cycle, from the edge leaving the requested edge's holder to the one entering its waiter. */
  readonly waitChain: readonly deadlock.WaitForEntry[];
}

export type DetectorAnswer =
  | { readonly kind: "no-deadlock" }
  | DeadlockFound
  /** The graph holds as many edges as it may; the edge was not added. */
  | { readonly kind: "graph-full" }
  /** This store does not run the detector: the caller must look it up again. */
  | { readonly kind: "not-leader" };

/** Identifies one edge for a clean-up; the key itself is not needed. */
export type WaitForEdgeId = Pick<WaitForEdge, "txn" | "waitForTxn" | "keyHash">;

export interface DeadlockDetectorOptions extends WaitForGraphOptions {
  /** For logs. */
  readonly storeId: bigint;
  /** Its monotonic time ages the edges. */
  readonly clock: Clock;
  readonly logger: Logger;
}

export class DeadlockDetector {
  private leader = false;
  private readonly graph: WaitForGraph;

  constructor(private readonly options: DeadlockDetectorOptions) {
    this.graph = new WaitForGraph(options);
  }

  get isLeader(): boolean {
    return this.leader;
  }

  /**
   * Whether this store's peer leads the first region. Called again with the same role (a split or conf
   * change of the first region under the same leader) it changes nothing.
   */
  setRole(isLeader: boolean): void {
    if (isLeader === this.leader) return;
    this.leader = isLeader;
    const dropped = this.graph.size;
    this.graph.clear();
    this.options.logger.info(
      { storeId: this.options.storeId, droppedEdges: dropped },
      isLeader ? "became the deadlock detector" : "no longer the deadlock detector",
    );
  }

  detect(edge: WaitForEdge): DetectorAnswer {
    if (!this.leader) return { kind: "not-leader" };
    const nowMs = this.options.clock.monotonicMs();
    return this.toAnswer(this.graph.detect(edge, nowMs), nowMs);
  }

  /** A waiter stopped waiting. A store that is not the detector has nothing to clean. */
  cleanUpWaitFor(edge: WaitForEdgeId): void {
    if (this.leader) this.graph.removeEdge(edge.txn, edge.waitForTxn, edge.keyHash);
  }

  /** A transaction ended: none of its waits is left. */
  cleanUp(txn: bigint): void {
    if (this.leader) this.graph.removeTxn(txn);
  }

  /** The whole graph, or undefined when this store does not run the detector. */
  entries(): deadlock.WaitForEntry[] | undefined {
    if (!this.leader) return undefined;
    const nowMs = this.options.clock.monotonicMs();
    return this.graph.entries(nowMs).map((entry) => toEntryProto(entry, nowMs));
  }

  private toAnswer(result: GraphDetectResult, nowMs: number): DetectorAnswer {
    if (result.kind === "no-deadlock") return result;
    if (result.kind === "graph-full") return { kind: "graph-full" };
    return {
      kind: "deadlock",
      deadlockKeyHash: result.deadlockKeyHash,
      deadlockKey: result.deadlockKey,
      waitChain: result.waitChain.map((entry) => toEntryProto(entry, nowMs)),
    };
  }
}

function toEntryProto(entry: WaitForGraphEntry, nowMs: number): deadlock.WaitForEntry {
  return {
    txn: entry.txn,
    waitForTxn: entry.waitForTxn,
    keyHash: entry.keyHash,
    key: entry.key,
    waitTimeMs: BigInt(Math.max(0, Math.floor(nowMs - entry.addedAtMs))),
  };
}
