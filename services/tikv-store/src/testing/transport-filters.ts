/**
 * The transport filters cluster tests install (TinyKV's `test_raftstore` filters): random drops, drops and
 * delays of matching messages, partitions, an isolated store.
 */
import type { eraftpb, raft_serverpb } from "#proto";
import type { Random } from "#runtime";
import { DELIVER, DROP, type FilterSide, onSide, type TransportFilter } from "../server/transport-filter.ts";

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
