/**
 * A simulated message network between numbered nodes, driven by a `Scheduler`. Each link is first-in
 * first-out like a TCP stream, with a base latency plus seeded jitter; faults (drop, partition, isolate,
 * delay, duplicate, reorder, custom filters) are installed and removed at runtime, and a crashed node
 * neither sends nor receives. All randomness comes from the `Random` given at construction, so the same
 * seed and the same program give the same deliveries at the same virtual times.
 *
 * Messages are delivered by reference (a duplicate is the same object twice): treat them as immutable.
 */
import type { Random } from "#runtime";
import {
  type DelayRange,
  delayFilter,
  describeScope,
  dropFilter,
  duplicateFilter,
  type Envelope,
  isolateFilter,
  type LinkScope,
  type NetworkFilter,
  type NodeId,
  partitionFilter,
  reorderFilter,
} from "./network-filter.ts";
import { NetworkStatistics } from "./network-statistics.ts";
import type { Scheduler } from "./scheduler.ts";

export type MessageHandler<M> = (message: M, from: NodeId) => void;

export type FilterId = number;

export type NetworkEvent<M> =
  | { readonly kind: "deliver"; readonly atMs: number; readonly envelope: Envelope<M> }
  | { readonly kind: "drop"; readonly atMs: number; readonly envelope: Envelope<M>; readonly reason: string };

export interface SimNetworkOptions<M> {
  readonly scheduler: Scheduler;
  /** Give the network its own fork of the simulation's random so other draws do not shift its own. */
  readonly random: Random;
  /** Names a message's type for per-type faults and statistics [every message is "message"]. */
  readonly classify?: (message: M) => string;
  /** Latency of every link [1]. */
  readonly baseLatencyMs?: number;
  /** Extra latency drawn uniformly from [0, jitterMs] per message; links stay FIFO regardless [1]. */
  readonly jitterMs?: number;
  /** Bound on messages in flight; more means a runaway sender [100_000]. */
  readonly maxInFlight?: number;
}

const DEFAULT_BASE_LATENCY_MS = 1;
const DEFAULT_JITTER_MS = 1;
const DEFAULT_MAX_IN_FLIGHT = 100_000;

export class UnknownNodeError extends Error {
  constructor(
    readonly node: NodeId,
    readonly operation: string,
  ) {
    super(`${operation}: node ${node} is not registered with the network`);
    this.name = "UnknownNodeError";
  }
}

export class DuplicateNodeError extends Error {
  constructor(readonly node: NodeId) {
    super(`addNode: node ${node} is already registered`);
    this.name = "DuplicateNodeError";
  }
}

export class NetworkOverloadError extends Error {
  constructor(
    readonly maxInFlight: number,
    readonly messageType: string,
  ) {
    super(
      `network has ${maxInFlight} messages in flight (limit) while sending a "${messageType}"; a runaway sender?`,
    );
    this.name = "NetworkOverloadError";
  }
}

interface NodeState<M> {
  handler: MessageHandler<M>;
  up: boolean;
  /** Changes on every crash, so messages sent to an earlier life of the node are not delivered to the next. */
  incarnation: number;
}

interface InstalledFilter<M> {
  readonly filter: NetworkFilter<M>;
  readonly description: string;
  /** Partitions and isolations, which `heal()` removes. */
  readonly connectivity: boolean;
}

interface FilterOutcome {
  readonly droppedBy: string | undefined;
  readonly extraMs: number;
  readonly reorder: boolean;
  readonly copies: number;
}

const NO_FAULT: FilterOutcome = Object.freeze({
  droppedBy: undefined,
  extraMs: 0,
  reorder: false,
  copies: 0,
});

export class SimNetwork<M> {
  readonly statistics = new NetworkStatistics();
  private readonly scheduler: Scheduler;
  private readonly random: Random;
  private readonly classify: (message: M) => string;
  private readonly baseLatencyMs: number;
  private readonly jitterMs: number;
  private readonly maxInFlight: number;
  private readonly nodes = new Map<NodeId, NodeState<M>>();
  private readonly filters = new Map<FilterId, InstalledFilter<M>>();
  private readonly lastOrderedArrivalMs = new Map<NodeId, Map<NodeId, number>>();
  private readonly observers = new Set<(event: NetworkEvent<M>) => void>();
  private nextFilterId = 1;
  private nextIncarnation = 1;
  private inFlight = 0;

  constructor(options: SimNetworkOptions<M>) {
    this.scheduler = options.scheduler;
    this.random = options.random;
    this.classify = options.classify ?? (() => "message");
    this.baseLatencyMs = options.baseLatencyMs ?? DEFAULT_BASE_LATENCY_MS;
    this.jitterMs = options.jitterMs ?? DEFAULT_JITTER_MS;
    this.maxInFlight = options.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT;
    if (!Number.isSafeInteger(this.baseLatencyMs) || !Number.isSafeInteger(this.jitterMs)) {
      throw new RangeError("baseLatencyMs and jitterMs must be integers");
    }
    if (this.baseLatencyMs < 0 || this.jitterMs < 0)
      throw new RangeError("baseLatencyMs and jitterMs must be >= 0");
  }

  /** Messages scheduled for delivery and not yet delivered or dropped. */
  get inFlightCount(): number {
    return this.inFlight;
  }

  addNode(node: NodeId, handler: MessageHandler<M>): void {
    if (this.nodes.has(node)) throw new DuplicateNodeError(node);
    this.nodes.set(node, { handler, up: true, incarnation: this.nextIncarnation++ });
  }

  /** Messages in flight to a removed node are dropped. */
  removeNode(node: NodeId): void {
    if (!this.nodes.delete(node)) throw new UnknownNodeError(node, "removeNode");
  }

  nodeIds(): NodeId[] {
    return [...this.nodes.keys()];
  }

  isNodeUp(node: NodeId): boolean {
    return this.nodes.get(node)?.up === true;
  }

  /** Crashes `node`: it sends nothing, and messages to it, including those already in flight, are dropped. */
  nodeDown(node: NodeId): void {
    const state = this.nodeState(node, "nodeDown");
    state.up = false;
    state.incarnation = this.nextIncarnation++;
  }

  /** Restarts `node`, optionally with the handler of its new incarnation. */
  nodeUp(node: NodeId, handler?: MessageHandler<M>): void {
    const state = this.nodeState(node, "nodeUp");
    state.up = true;
    if (handler !== undefined) state.handler = handler;
  }

  send(from: NodeId, to: NodeId, message: M): void {
    const envelope: Envelope<M> = {
      from,
      to,
      message,
      messageType: this.classify(message),
      sentAtMs: this.scheduler.nowMs,
    };
    this.statistics.recordSent(envelope.messageType);
    const receiver = this.nodes.get(to);
    const endpointProblem = this.endpointProblem(from, receiver);
    if (endpointProblem !== undefined) {
      this.drop(envelope, endpointProblem);
      return;
    }
    const { droppedBy, extraMs, reorder, copies } = this.applyFilters(envelope);
    if (droppedBy !== undefined) {
      this.drop(envelope, droppedBy);
      return;
    }
    const incarnation = receiver!.incarnation;
    this.dispatch(envelope, incarnation, extraMs, !reorder);
    if (copies > 0) this.statistics.recordDuplicated(envelope.messageType, copies);
    // A duplicate models a retransmission, which arrives independently of the link's order.
    for (let copy = 0; copy < copies; copy++) this.dispatch(envelope, incarnation, extraMs, false);
  }

  /** Installs a custom filter; `description` names it in drop statistics [`filter <id>`]. */
  addFilter(filter: NetworkFilter<M>, description?: string): FilterId {
    return this.install(filter, description, false);
  }

  /** Returns false when no filter has that id (already removed). */
  removeFilter(id: FilterId): boolean {
    return this.filters.delete(id);
  }

  clearFilters(): void {
    this.filters.clear();
  }

  activeFilters(): { readonly id: FilterId; readonly description: string }[] {
    return [...this.filters].map(([id, installed]) => ({ id, description: installed.description }));
  }

  dropMessages(probability: number, scope: LinkScope = {}): FilterId {
    return this.install(
      dropFilter(probability, scope),
      `drop p=${probability} ${describeScope(scope)}`,
      false,
    );
  }

  /** Messages between different groups are dropped; nodes in no group reach everyone. */
  partition(groups: readonly (readonly NodeId[])[]): FilterId {
    const description = `partition ${groups.map((group) => `[${group.join(",")}]`).join("|")}`;
    return this.install(partitionFilter(groups), description, true);
  }

  isolate(node: NodeId): FilterId {
    return this.install(isolateFilter(node), `isolate ${node}`, true);
  }

  /** Removes every partition and isolation (other faults stay); returns how many were removed. */
  heal(): number {
    let removed = 0;
    for (const [id, installed] of this.filters) {
      if (installed.connectivity && this.filters.delete(id)) removed++;
    }
    return removed;
  }

  delayMessages(range: DelayRange, scope: LinkScope = {}): FilterId {
    const description = `delay ${range.minMs}-${range.maxMs}ms ${describeScope(scope)}`;
    return this.install(delayFilter(range, scope), description, false);
  }

  duplicateMessages(probability: number, scope: LinkScope = {}): FilterId {
    return this.install(
      duplicateFilter(probability, scope),
      `duplicate p=${probability} ${describeScope(scope)}`,
      false,
    );
  }

  reorderMessages(probability: number, maxExtraMs: number, scope: LinkScope = {}): FilterId {
    const description = `reorder p=${probability} up to ${maxExtraMs}ms ${describeScope(scope)}`;
    return this.install(reorderFilter(probability, maxExtraMs, scope), description, false);
  }

  /** Calls `listener` on every delivery and drop (for traces); returns the function that unsubscribes. */
  observe(listener: (event: NetworkEvent<M>) => void): () => void {
    this.observers.add(listener);
    return () => this.observers.delete(listener);
  }

  private install(
    filter: NetworkFilter<M>,
    description: string | undefined,
    connectivity: boolean,
  ): FilterId {
    const id = this.nextFilterId++;
    this.filters.set(id, { filter, description: description ?? `filter ${id}`, connectivity });
    return id;
  }

  private nodeState(node: NodeId, operation: string): NodeState<M> {
    const state = this.nodes.get(node);
    if (state === undefined) throw new UnknownNodeError(node, operation);
    return state;
  }

  // Senders need not be registered (a test may inject messages), but a registered sender must be up.
  private endpointProblem(from: NodeId, receiver: NodeState<M> | undefined): string | undefined {
    if (this.nodes.get(from)?.up === false) return "sender down";
    if (receiver === undefined) return "unknown receiver";
    return receiver.up ? undefined : "receiver down";
  }

  private applyFilters(envelope: Envelope<M>): FilterOutcome {
    if (this.filters.size === 0) return NO_FAULT;
    let extraMs = 0;
    let reorder = false;
    let copies = 0;
    for (const installed of this.filters.values()) {
      const verdict = installed.filter(envelope, this.random);
      if (verdict.kind === "drop") return { droppedBy: installed.description, extraMs, reorder, copies };
      if (verdict.kind === "delay") {
        extraMs += verdict.extraMs;
        reorder ||= verdict.reorder;
      } else if (verdict.kind === "duplicate") {
        copies += verdict.copies;
      }
    }
    return { droppedBy: undefined, extraMs, reorder, copies };
  }

  private dispatch(envelope: Envelope<M>, incarnation: number, extraMs: number, ordered: boolean): void {
    if (this.inFlight >= this.maxInFlight) {
      throw new NetworkOverloadError(this.maxInFlight, envelope.messageType);
    }
    const jitterMs = this.jitterMs > 0 ? this.random.intBetween(0, this.jitterMs + 1) : 0;
    let arrivalMs = this.scheduler.nowMs + this.baseLatencyMs + jitterMs + extraMs;
    if (ordered) arrivalMs = this.keepLinkOrder(envelope.from, envelope.to, arrivalMs);
    this.inFlight++;
    this.scheduler.scheduleAt(arrivalMs, () => this.deliver(envelope, incarnation), envelope.messageType);
  }

  /** An ordered message never arrives before an ordered message sent earlier on the same link. */
  private keepLinkOrder(from: NodeId, to: NodeId, arrivalMs: number): number {
    let fromLinks = this.lastOrderedArrivalMs.get(from);
    if (fromLinks === undefined) {
      fromLinks = new Map();
      this.lastOrderedArrivalMs.set(from, fromLinks);
    }
    const orderedArrivalMs = Math.max(arrivalMs, fromLinks.get(to) ?? arrivalMs);
    fromLinks.set(to, orderedArrivalMs);
    return orderedArrivalMs;
  }

  // A sender that crashed after sending does not recall its message: it is already on the wire.
  private deliver(envelope: Envelope<M>, incarnation: number): void {
    this.inFlight--;
    const receiver = this.nodes.get(envelope.to);
    if (receiver?.incarnation !== incarnation) {
      this.drop(
        envelope,
        receiver === undefined ? "unknown receiver" : receiver.up ? "receiver restarted" : "receiver down",
      );
      return;
    }
    this.statistics.recordDelivered(envelope.messageType);
    if (this.observers.size > 0) this.notify({ kind: "deliver", atMs: this.scheduler.nowMs, envelope });
    receiver.handler(envelope.message, envelope.from);
  }

  private drop(envelope: Envelope<M>, reason: string): void {
    this.statistics.recordDropped(envelope.messageType, reason);
    if (this.observers.size > 0) this.notify({ kind: "drop", atMs: this.scheduler.nowMs, envelope, reason });
  }

  private notify(event: NetworkEvent<M>): void {
    for (const observer of this.observers) observer(event);
  }
}
