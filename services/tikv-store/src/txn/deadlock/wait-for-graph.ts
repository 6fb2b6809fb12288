/**
 * The deadlock detector's wait-for graph (TiKV's `DetectTable`). An edge txn → waitForTxn says that
 * transaction `txn` waits for a lock held by `waitForTxn`; one edge per locked key, told apart by the
 * key's hash. `detect` adds an edge only when it closes no cycle, so the graph stays acyclic and a cycle
 * is always found by the edge that would close it: that edge's waiter is the victim (see detector.ts).
 *
 * Edges expire `ttlMs` after they were last added or refreshed. A waiter refreshes its edge while it
 * waits (lock-wait-manager.ts), so only edges whose clean-up was lost (a broken stream, a crashed store)
 * expire; the TTL bounds how long such a stale edge can cause a false deadlock. Expired edges are dropped
 * when a search meets them and, all at once, when the graph is full.
 *
 * Pure: no I/O and no clock; the caller passes the time (monotonic milliseconds) to every call that
 * needs it.
 */

export interface WaitForEdge {
  /** Start timestamp of the waiting transaction. */
  readonly txn: bigint;
  /** Start timestamp of the transaction holding the lock. */
  readonly waitForTxn: bigint;
  readonly keyHash: bigint;
  /** The raw user key, kept for the deadlock error and diagnostics. */
  readonly key: Uint8Array;
}

/** An edge as the graph holds it. */
export interface WaitForGraphEntry extends WaitForEdge {
  /** When the edge was first added; refreshes do not move it. */
  readonly addedAtMs: number;
}

export type GraphDetectResult =
  /** The edge was added, or refreshed when it was already there. */
  | { readonly kind: "no-deadlock" }
  /**
   * The edge would close a cycle and was not added. `waitChain` is the rest of the cycle, from the edge
   * leaving `waitForTxn` to the edge entering `txn`, whose key (locked by `txn`) is the deadlock key.
   */
  | {
      readonly kind: "deadlock";
      readonly deadlockKeyHash: bigint;
      readonly deadlockKey: Uint8Array;
      readonly waitChain: readonly WaitForGraphEntry[];
    }
  /** No cycle, but the graph already holds `maxEntries` live edges; the edge was not added. */
  | { readonly kind: "graph-full"; readonly maxEntries: number };

export interface WaitForGraphOptions {
  /** How long an edge lives without a refresh [3 s]. */
  readonly ttlMs?: number;
  /** Edges held at most, over all transactions [65536]. */
  readonly maxEntries?: number;
}

/**
 * Three refresh periods of a waiter (lock-wait-manager.ts refreshes every second): two lost refreshes do
 * not expire a live edge, and a stale one is gone within 3 s. TiKV ties its TTL to its 1 s lock wait, after
 * which its client asks again.
 */
export const DEFAULT_WAIT_FOR_ENTRY_TTL_MS = 3_000;
/** Room for the full waiter tables of four stores (lock-wait-manager.ts allows 16384 waiters each). */
export const DEFAULT_MAX_WAIT_FOR_ENTRIES = 65_536;

interface KeyWait {
  readonly key: Uint8Array;
  readonly addedAtMs: number;
  refreshedAtMs: number;
}

/** waitForTxn → keyHash → the wait on that key. */
type Targets = Map<bigint, Map<bigint, KeyWait>>;

const NO_DEADLOCK: GraphDetectResult = { kind: "no-deadlock" };

export class WaitForGraph {
  readonly ttlMs: number;
  readonly maxEntries: number;
  /** txn → its targets; a transaction with no edge has no entry. */
  private readonly waits = new Map<bigint, Targets>();
  private entryCount = 0;

  constructor(options: WaitForGraphOptions = {}) {
    this.ttlMs = options.ttlMs ?? DEFAULT_WAIT_FOR_ENTRY_TTL_MS;
    this.maxEntries = options.maxEntries ?? DEFAULT_MAX_WAIT_FOR_ENTRIES;
    if (!(this.ttlMs > 0 && Number.isFinite(this.ttlMs)))
      throw new RangeError(`wait-for entry TTL must be a finite number of ms above 0, got ${this.ttlMs}`);
    if (!(Number.isSafeInteger(this.maxEntries) && this.maxEntries > 0))
      throw new RangeError(`wait-for graph bound must be a positive integer, got ${this.maxEntries}`);
  }

  /** Edges held, counting expired ones not dropped yet; never above `maxEntries`. */
  get size(): number {
    return this.entryCount;
  }

  /**
   * Looks for a path from `edge.waitForTxn` back to `edge.txn` before adding the edge: with one, the edge
   * would close a cycle and is refused; without one, it is added (or refreshed).
   */
  detect(edge: WaitForEdge, nowMs: number): GraphDetectResult {
    if (edge.txn === edge.waitForTxn) {
      // A transaction waiting for itself is a cycle of one edge; waiting would never end.
      return { kind: "deadlock", deadlockKeyHash: edge.keyHash, deadlockKey: edge.key, waitChain: [] };
    }
    const sameTarget = this.liveTargets(edge.txn, nowMs)?.get(edge.waitForTxn);
    const sameKey = sameTarget?.get(edge.keyHash);
    if (sameKey !== undefined) {
      sameKey.refreshedAtMs = nowMs;
      return NO_DEADLOCK;
    }
    // With an edge to the same transaction already there, another key adds no new path.
    if (sameTarget === undefined) {
      const cycle = this.findPath(edge.waitForTxn, edge.txn, nowMs);
      if (cycle !== undefined) return cycle;
    }
    if (!this.makeRoom(nowMs)) return { kind: "graph-full", maxEntries: this.maxEntries };
    this.add(edge, nowMs);
    return NO_DEADLOCK;
  }

  /** Removes the edge of one key; true when it was there. */
  removeEdge(txn: bigint, waitForTxn: bigint, keyHash: bigint): boolean {
    const targets = this.waits.get(txn);
    const keys = targets?.get(waitForTxn);
    if (targets === undefined || keys === undefined || !keys.delete(keyHash)) return false;
    this.entryCount--;
    if (keys.size === 0) targets.delete(waitForTxn);
    if (targets.size === 0) this.waits.delete(txn);
    return true;
  }

  /** Removes every edge whose waiter is `txn`; returns how many there were. */
  removeTxn(txn: bigint): number {
    const targets = this.waits.get(txn);
    if (targets === undefined) return 0;
    let removed = 0;
    for (const keys of targets.values()) removed += keys.size;
    this.waits.delete(txn);
    this.entryCount -= removed;
    return removed;
  }

  clear(): void {
    this.waits.clear();
    this.entryCount = 0;
  }

  /** Every live edge, dropping the expired ones. */
  entries(nowMs: number): WaitForGraphEntry[] {
    this.dropExpired(nowMs);
    const entries: WaitForGraphEntry[] = [];
    for (const [txn, targets] of this.waits) {
      for (const [waitForTxn, keys] of targets) {
        for (const [keyHash, wait] of keys) entries.push(entryOf(txn, waitForTxn, keyHash, wait));
      }
    }
    return entries;
  }

  /**
   * Depth-first search from `from` for an edge into `to`, remembering through which transaction each one
   * was first reached. One predecessor per transaction is enough: a transaction that leads to `to` is
   * searched through the first time it is reached, and the search ends there.
   */
  private findPath(from: bigint, to: bigint, nowMs: number): GraphDetectResult | undefined {
    const reachedFrom = new Map<bigint, bigint | undefined>([[from, undefined]]);
    const stack = [from];
    for (let current = stack.pop(); current !== undefined; current = stack.pop()) {
      const targets = this.liveTargets(current, nowMs);
      if (targets === undefined) continue;
      const closing = targets.get(to);
      if (closing !== undefined) return this.cycleThrough(current, to, closing, reachedFrom);
      for (const next of targets.keys()) {
        if (reachedFrom.has(next)) continue;
        reachedFrom.set(next, current);
        stack.push(next);
      }
    }
    return undefined;
  }

  private cycleThrough(
    last: bigint,
    to: bigint,
    closing: Map<bigint, KeyWait>,
    reachedFrom: ReadonlyMap<bigint, bigint | undefined>,
  ): GraphDetectResult {
    const [deadlockKeyHash, deadlockWait] = firstOf(closing);
    const waitChain = [entryOf(last, to, deadlockKeyHash, deadlockWait)];
    for (let txn = last, waiter = reachedFrom.get(last); waiter !== undefined; ) {
      // Every edge on the path was live when the search crossed it, at this same `nowMs`.
      const [keyHash, wait] = firstOf(this.waits.get(waiter)!.get(txn)!);
      waitChain.push(entryOf(waiter, txn, keyHash, wait));
      txn = waiter;
      waiter = reachedFrom.get(waiter);
    }
    waitChain.reverse();
    return { kind: "deadlock", deadlockKeyHash, deadlockKey: deadlockWait.key, waitChain };
  }

  /** The transaction's targets with its expired edges dropped; undefined when none is left. */
  private liveTargets(txn: bigint, nowMs: number): Targets | undefined {
    const targets = this.waits.get(txn);
    if (targets === undefined) return undefined;
    for (const [waitForTxn, keys] of targets) {
      for (const [keyHash, wait] of keys) {
        if (nowMs - wait.refreshedAtMs < this.ttlMs) continue;
        keys.delete(keyHash);
        this.entryCount--;
      }
      if (keys.size === 0) targets.delete(waitForTxn);
    }
    if (targets.size > 0) return targets;
    this.waits.delete(txn);
    return undefined;
  }

  private makeRoom(nowMs: number): boolean {
    if (this.entryCount < this.maxEntries) return true;
    this.dropExpired(nowMs);
    return this.entryCount < this.maxEntries;
  }

  private dropExpired(nowMs: number): void {
    for (const txn of [...this.waits.keys()]) this.liveTargets(txn, nowMs);
  }

  private add(edge: WaitForEdge, nowMs: number): void {
    let targets = this.waits.get(edge.txn);
    if (targets === undefined) {
      targets = new Map();
      this.waits.set(edge.txn, targets);
    }
    let keys = targets.get(edge.waitForTxn);
    if (keys === undefined) {
      keys = new Map();
      targets.set(edge.waitForTxn, keys);
    }
    keys.set(edge.keyHash, { key: edge.key, addedAtMs: nowMs, refreshedAtMs: nowMs });
    this.entryCount++;
  }
}

/** The oldest key of a non-empty target, as TiKV reports the first lock of an edge. */
function firstOf(keys: Map<bigint, KeyWait>): [bigint, KeyWait] {
  return keys.entries().next().value!;
}

function entryOf(txn: bigint, waitForTxn: bigint, keyHash: bigint, wait: KeyWait): WaitForGraphEntry {
  return { txn, waitForTxn, keyHash, key: wait.key, addedAtMs: wait.addedAtMs };
}
