/**
 * Filters decide the fate of each message a `SimNetwork` sends. A filter looks at one envelope and
 * returns a verdict; the network combines the verdicts of all installed filters (the first drop wins,
 * extra delays add up, duplicate copies add up). The built-in faults below are ordinary filters, so a
 * test can mix them with its own.
 */
import type { Random } from "#runtime";

export type NodeId = number;

export interface Envelope<M> {
  readonly from: NodeId;
  readonly to: NodeId;
  readonly message: M;
  /** The result of the network's `classify(message)`, e.g. "MsgAppend". */
  readonly messageType: string;
  readonly sentAtMs: number;
}

export type Verdict =
  | { readonly kind: "pass" }
  | { readonly kind: "drop" }
  /** Deliver `extraMs` later than the link would; `reorder` lets it be overtaken by later messages. */
  | { readonly kind: "delay"; readonly extraMs: number; readonly reorder: boolean }
  /** Deliver `copies` extra copies besides the original. */
  | { readonly kind: "duplicate"; readonly copies: number };

export const PASS: Verdict = Object.freeze({ kind: "pass" });
export const DROP: Verdict = Object.freeze({ kind: "drop" });

/** Filters draw randomness only from the network's seeded `random`, so a run replays from its seed. */
export type NetworkFilter<M> = (envelope: Envelope<M>, random: Random) => Verdict;

/** Which messages a fault applies to; an empty scope means every message. */
export interface LinkScope {
  readonly from?: NodeId;
  readonly to?: NodeId;
  /** With `from` and `to`: match the link in both directions instead of from → to only. */
  readonly bothDirections?: boolean;
  readonly messageType?: string;
}

export interface DelayRange {
  readonly minMs: number;
  readonly maxMs: number;
}

export function matchesScope(scope: LinkScope, envelope: Envelope<unknown>): boolean {
  if (scope.messageType !== undefined && scope.messageType !== envelope.messageType) return false;
  if (matchesEndpoints(scope.from, scope.to, envelope)) return true;
  return scope.bothDirections === true && matchesEndpoints(scope.to, scope.from, envelope);
}

function matchesEndpoints(
  from: NodeId | undefined,
  to: NodeId | undefined,
  envelope: Envelope<unknown>,
): boolean {
  return (from === undefined || from === envelope.from) && (to === undefined || to === envelope.to);
}

export function describeScope(scope: LinkScope): string {
  const arrow = scope.bothDirections === true ? "<->" : "->";
  const link =
    scope.from === undefined && scope.to === undefined
      ? "all"
      : `${scope.from ?? "*"}${arrow}${scope.to ?? "*"}`;
  return scope.messageType === undefined ? link : `${link} type=${scope.messageType}`;
}

export function dropFilter(probability: number, scope: LinkScope = {}): NetworkFilter<unknown> {
  assertProbability(probability);
  return (envelope, random) => (matchesScope(scope, envelope) && random.chance(probability) ? DROP : PASS);
}

/**
 * Drops messages between nodes of different groups. Nodes listed in no group are not partitioned from
 * anyone, so a test can partition the servers and leave a client node able to reach all of them.
 */
export function partitionFilter(groups: readonly (readonly NodeId[])[]): NetworkFilter<unknown> {
  const groupOf = new Map<NodeId, number>();
  groups.forEach((group, groupIndex) => {
    for (const node of group) {
      if (groupOf.has(node)) throw new RangeError(`partition: node ${node} is listed in two groups`);
      groupOf.set(node, groupIndex);
    }
  });
  return (envelope) => {
    const fromGroup = groupOf.get(envelope.from);
    const toGroup = groupOf.get(envelope.to);
    return fromGroup !== undefined && toGroup !== undefined && fromGroup !== toGroup ? DROP : PASS;
  };
}

/** Drops everything `node` sends to or receives from another node. */
export function isolateFilter(node: NodeId): NetworkFilter<unknown> {
  return (envelope) =>
    envelope.from !== envelope.to && (envelope.from === node || envelope.to === node) ? DROP : PASS;
}

/** Adds a uniform extra latency in [minMs, maxMs]; the link stays first-in first-out. */
export function delayFilter(range: DelayRange, scope: LinkScope = {}): NetworkFilter<unknown> {
  assertDelayRange(range);
  return (envelope, random) =>
    matchesScope(scope, envelope)
      ? { kind: "delay", extraMs: random.intBetween(range.minMs, range.maxMs + 1), reorder: false }
      : PASS;
}

export function duplicateFilter(probability: number, scope: LinkScope = {}): NetworkFilter<unknown> {
  assertProbability(probability);
  return (envelope, random) =>
    matchesScope(scope, envelope) && random.chance(probability) ? { kind: "duplicate", copies: 1 } : PASS;
}

/**
 * With `probability`, holds a message back by a uniform extra delay in [1, maxExtraMs] outside the link's
 * first-in first-out order, so messages sent after it can arrive before it.
 */
export function reorderFilter(
  probability: number,
  maxExtraMs: number,
  scope: LinkScope = {},
): NetworkFilter<unknown> {
  assertProbability(probability);
  assertDelayRange({ minMs: 1, maxMs: maxExtraMs });
  return (envelope, random) =>
    matchesScope(scope, envelope) && random.chance(probability)
      ? { kind: "delay", extraMs: random.intBetween(1, maxExtraMs + 1), reorder: true }
      : PASS;
}

function assertProbability(probability: number): void {
  if (!(probability >= 0 && probability <= 1)) {
    throw new RangeError(`probability must be in [0, 1], got ${probability}`);
  }
}

function assertDelayRange(range: DelayRange): void {
  const valid = Number.isSafeInteger(range.minMs) && Number.isSafeInteger(range.maxMs) && range.minMs >= 0;
  if (!valid || range.maxMs < range.minMs) {
    throw new RangeError(
      `delay range must be integers with 0 <= minMs <= maxMs, got [${range.minMs}, ${range.maxMs}]`,
    );
  }
}
