/**
 * The faults of a StoreCluster as ONE transport filter consulted for every raft message of every store:
 * crashed stores, partitions, an unreliable network and filters a test added. The state lives here rather
 * than in each store's filter chain, so a store that restarts (and gets a fresh transport) is born with the
 * faults in force, and healing is one call. Over gRPC every store's transport and raft receiver consult it;
 * the local transport consults it for both sides of each delivery.
 *
 * Every rule acts where a message is sent, except the filters a test adds, which see both directions and
 * decide themselves which side they act on.
 */
import { eraftpb, type raft_serverpb } from "#proto";
import type { Random } from "#runtime";
import {
  DELIVER,
  DROP,
  type FilterVerdict,
  type TransportDirection,
  type TransportFilter,
} from "../../server/transport-filter.ts";

/** TinyKV's unreliable network drops about one message in ten. */
const UNRELIABLE_DROP_PROBABILITY = 0.1;
/** Another share arrives late, overtaken by later messages. */
const UNRELIABLE_DELAY_PROBABILITY = 0.1;
const UNRELIABLE_MAX_DELAY_MS = 40;

interface AddedFilter {
  readonly filter: TransportFilter;
  /** The stores whose sends (and receives) it acts on. */
  readonly storeIds: ReadonlySet<bigint>;
}

/** Store ids in groups: a message between two stores of different groups is dropped. */
interface Partition {
  readonly groupOf: ReadonlyMap<bigint, number>;
  readonly description: string;
}

export class ClusterFaults implements TransportFilter {
  private readonly down = new Set<bigint>();
  private partitions: readonly Partition[] = [];
  private unreliableNetwork = false;
  private added: readonly AddedFilter[] = [];
  /** Snapshots let through to their receivers, to show a test exercised the snapshot path. */
  snapshotsSent = 0;

  constructor(private readonly random: Random) {}

  get description(): string {
    return this.describe();
  }

  markDown(storeId: bigint): void {
    this.down.add(storeId);
  }

  markUp(storeId: bigint): void {
    this.down.delete(storeId);
  }

  /**
   * Cuts every link between stores of different groups until the returned function (or `heal`) is called;
   * a store in no group keeps its links. Partitions in force at once add up.
   */
  partition(groups: readonly (readonly bigint[])[]): () => void {
    const groupOf = new Map<bigint, number>();
    groups.forEach((group, index) => {
      for (const storeId of group) {
        if (groupOf.has(storeId)) throw new RangeError(`store ${storeId} is in two partition groups`);
        groupOf.set(storeId, index);
      }
    });
    const partition: Partition = {
      groupOf,
      description: `partition ${groups.map((group) => `[${group.join(",")}]`).join(" | ")}`,
    };
    this.partitions = [...this.partitions, partition];
    return () => {
      this.partitions = this.partitions.filter((candidate) => candidate !== partition);
    };
  }

  setUnreliable(on: boolean): void {
    this.unreliableNetwork = on;
  }

  /** Installs `filter` on the sends and receives of `storeIds` until the returned function (or `heal`) is called. */
  addFilter(filter: TransportFilter, storeIds: readonly bigint[]): () => void {
    const added: AddedFilter = { filter, storeIds: new Set(storeIds) };
    this.added = [...this.added, added];
    return () => {
      this.added = this.added.filter((candidate) => candidate !== added);
    };
  }

  /** Ends partitions, the unreliable network and added filters; crashed stores stay down. */
  heal(): void {
    this.partitions = [];
    this.unreliableNetwork = false;
    this.added = [];
  }

  get partitioned(): boolean {
    return this.partitions.length > 0;
  }

  describe(): string {
    const parts = [
      this.down.size > 0 ? `down stores ${[...this.down].join(",")}` : "",
      ...this.partitions.map(({ description }) => description),
      this.unreliableNetwork ? "unreliable network" : "",
      ...this.added.map(({ filter }) => filter.description),
    ].filter((part) => part !== "");
    return parts.length === 0 ? "none" : parts.join("; ");
  }

  decide(message: raft_serverpb.RaftMessage, direction: TransportDirection): FilterVerdict {
    const added = this.decideAdded(message, direction);
    if (added.kind === "drop" || direction === "receive") return added;
    const own = this.decideOwn(message);
    if (own.kind === "drop") return DROP;
    if (message.message?.msgType === eraftpb.MessageType.SNAPSHOT) this.snapshotsSent++;
    return own.kind === "delay" ? combineDelays(own, added) : added;
  }

  private decideOwn(message: raft_serverpb.RaftMessage): FilterVerdict {
    const from = message.fromPeer?.storeId ?? 0n;
    const to = message.toPeer?.storeId ?? 0n;
    if (this.down.has(from) || this.down.has(to)) return DROP;
    if (this.partitions.some((partition) => cuts(partition, from, to))) return DROP;
    if (!this.unreliableNetwork) return DELIVER;
    if (this.random.chance(UNRELIABLE_DROP_PROBABILITY)) return DROP;
    if (this.random.chance(UNRELIABLE_DELAY_PROBABILITY)) {
      return { kind: "delay", delayMs: 1 + this.random.intBelow(UNRELIABLE_MAX_DELAY_MS) };
    }
    return DELIVER;
  }

  private decideAdded(message: raft_serverpb.RaftMessage, direction: TransportDirection): FilterVerdict {
    const storeId = (direction === "send" ? message.fromPeer?.storeId : message.toPeer?.storeId) ?? 0n;
    let delayMs = 0;
    for (const { filter, storeIds } of this.added) {
      if (!storeIds.has(storeId)) continue;
      const verdict = filter.decide(message, direction);
      if (verdict.kind === "drop") return DROP;
      if (verdict.kind === "delay") delayMs += verdict.delayMs;
    }
    return delayMs > 0 ? { kind: "delay", delayMs } : DELIVER;
  }
}

function cuts(partition: Partition, from: bigint, to: bigint): boolean {
  const fromGroup = partition.groupOf.get(from);
  const toGroup = partition.groupOf.get(to);
  return fromGroup !== undefined && toGroup !== undefined && fromGroup !== toGroup;
}

/** Delays add up, as in a store's filter chain. */
export function combineDelays(first: FilterVerdict, second: FilterVerdict): FilterVerdict {
  const delayMs = delayOf(first) + delayOf(second);
  return delayMs > 0 ? { kind: "delay", delayMs } : DELIVER;
}

function delayOf(verdict: FilterVerdict): number {
  return verdict.kind === "delay" ? verdict.delayMs : 0;
}
