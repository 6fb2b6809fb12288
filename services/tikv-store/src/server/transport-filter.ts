/**
 * Fault injection for raft traffic between stores, in the manner of TinyKV's `test_raftstore` filters:
 * cluster tests install filters on a store's transport to make the network unreliable, cut it into
 * partitions or slow it down, and clear them to heal it. Production code never installs one.
 *
 * A filter is consulted for every raft message (snapshots included) on the side it applies to: `send` in
 * the sending store's transport, `receive` in the receiving store's raft service. Raft tolerates lost,
 * late and duplicated messages, so dropping here exercises exactly the recovery paths a real network does.
 */
import type { eraftpb, raft_serverpb } from "#proto";
import type { Random } from "#runtime";

export type TransportDirection = "send" | "receive";

/** What to do with one message: deliver it, drop it, or deliver it after `delayMs`. */
export type FilterVerdict =
  | { readonly kind: "deliver" }
  | { readonly kind: "drop" }
  | { readonly kind: "delay"; readonly delayMs: number };

export interface TransportFilter {
  /** For logs and test failure messages, e.g. "partition [1] | [2,3]". */
  readonly description: string;
  decide(message: raft_serverpb.RaftMessage, direction: TransportDirection): FilterVerdict;
}

export const DELIVER: FilterVerdict = Object.freeze({ kind: "deliver" });
export const DROP: FilterVerdict = Object.freeze({ kind: "drop" });

/** Which side a filter acts on; "both" makes one filter cover a link whichever store it is installed on. */
export type FilterSide = TransportDirection | "both";

function onSide(side: FilterSide, direction: TransportDirection): boolean {
  return side === "both" || side === direction;
}

/** The filters installed on one store, shared by its transport (send) and raft receiver (receive). */
export class TransportFilterChain {
  private filters: readonly TransportFilter[] = [];

  get installed(): readonly TransportFilter[] {
    return this.filters;
  }

  add(filter: TransportFilter): void {
    this.filters = [...this.filters, filter];
  }

  clear(): void {
    this.filters = [];
  }

  /** The first drop wins; delays add up, so two delaying filters delay by their sum. */
  decide(message: raft_serverpb.RaftMessage, direction: TransportDirection): FilterVerdict {
    let delayMs = 0;
    for (const filter of this.filters) {
      const verdict = filter.decide(message, direction);
      if (verdict.kind === "drop") return DROP;
      if (verdict.kind === "delay") delayMs += verdict.delayMs;
    }
    return delayMs > 0 ? { kind: "delay", delayMs } : DELIVER;
  }
}

/** Drops each message with `probability` (TinyKV's unreliable network drops about 10%). */
export function dropRandomly(
  probability: number,
  random: Random,
  side: FilterSide = "send",
): TransportFilter {
  if (!(probability >= 0 && probability <= 1)) {
    throw new RangeError(`drop probability must be in [0, 1], got ${probability}`);
  }
  return {
    description: `drop ${probability * 100}% (${side})`,
    decide: (_, direction) => (onSide(side, direction) && random.chance(probability) ? DROP : DELIVER),
  };
}

export interface MessageMatch {
  /** Only messages of these raft types; absent means any type. */
  readonly types?: readonly eraftpb.MessageType[];
  /** Only messages of this region; absent means any region. */
  readonly regionId?: bigint;
  readonly side?: FilterSide;
}

/** Drops every message matching `match` (for example all heartbeats of one region, or every append). */
export function dropMatching(match: MessageMatch): TransportFilter {
  const side = match.side ?? "both";
  return {
    description: `drop ${describeMatch(match)} (${side})`,
    decide: (message, direction) => (onSide(side, direction) && matches(message, match) ? DROP : DELIVER),
  };
}

/** Delays every message matching `match` by `delayMs`. */
export function delayMatching(delayMs: number, match: MessageMatch = {}): TransportFilter {
  if (!(delayMs >= 0)) throw new RangeError(`delay must be >= 0 ms, got ${delayMs}`);
  const side = match.side ?? "send";
  return {
    description: `delay ${describeMatch(match)} by ${delayMs} ms (${side})`,
    decide: (message, direction) =>
      onSide(side, direction) && matches(message, match) ? { kind: "delay", delayMs } : DELIVER,
  };
}

/**
 * Splits the stores into groups that cannot talk to each other; stores in no group can talk to nobody
 * in a group. Works whichever store it is installed on, in both directions.
 */
export function partition(groups: readonly (readonly bigint[])[]): TransportFilter {
  const groupOf = new Map<bigint, number>();
  groups.forEach((group, index) => {
    for (const storeId of group) {
      if (groupOf.has(storeId)) throw new RangeError(`store ${storeId} is in two partition groups`);
      groupOf.set(storeId, index);
    }
  });
  const description = `partition ${groups.map((group) => `[${group.join(",")}]`).join(" | ")}`;
  return {
    description,
    decide: (message) => {
      const from = groupOf.get(message.fromPeer?.storeId ?? 0n);
      const to = groupOf.get(message.toPeer?.storeId ?? 0n);
      return from === to ? DELIVER : DROP;
    },
  };
}

/** Cuts one store off from every other store. */
export function isolateStore(storeId: bigint): TransportFilter {
  return {
    description: `isolate store ${storeId}`,
    decide: (message) =>
      (message.fromPeer?.storeId === storeId) !== (message.toPeer?.storeId === storeId) ? DROP : DELIVER,
  };
}

function matches(message: raft_serverpb.RaftMessage, match: MessageMatch): boolean {
  if (match.regionId !== undefined && message.regionId !== match.regionId) return false;
  if (match.types === undefined) return true;
  const type = message.message?.msgType;
  return type !== undefined && match.types.includes(type);
}

function describeMatch(match: MessageMatch): string {
  const types = match.types === undefined ? "all messages" : `types [${match.types.join(",")}]`;
  return match.regionId === undefined ? types : `${types} of region ${match.regionId}`;
}
