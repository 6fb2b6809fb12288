/**
 * The faults of a StoreCluster as ONE transport filter installed on every store: crashed stores,
 * a partition, an unreliable network and filters a test added. The state lives here rather than in each
 * store's filter chain, so a store that restarts (and gets a fresh transport) is born with the faults
 * in force, and healing is one call.
 *
 * Every rule acts where a message is sent (each store's transport consults this filter), except the
 * filters a test adds, which see both directions and decide themselves which side they act on.
 */
import { eraftpb, type raft_serverpb } from "#proto";
import type { Random } from "#runtime";
import {
  DELIVER,
  DROP,
  type FilterVerdict,
  partition,
  type TransportDirection,
  type TransportFilter,
} from "../../../services/tikv-store/src/server/transport-filter.ts";

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

export class ClusterFaults implements TransportFilter {
  private readonly down = new Set<bigint>();
  private partitionFilter: TransportFilter | undefined;
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

  setPartition(groups: readonly (readonly bigint[])[]): void {
    this.partitionFilter = partition(groups);
  }

  setUnreliable(on: boolean): void {
    this.unreliableNetwork = on;
  }

  addFilter(filter: TransportFilter, storeIds: readonly bigint[]): void {
    this.added = [...this.added, { filter, storeIds: new Set(storeIds) }];
  }

  heal(): void {
    this.partitionFilter = undefined;
    this.unreliableNetwork = false;
    this.added = [];
  }

  get partitioned(): boolean {
    return this.partitionFilter !== undefined;
  }

  describe(): string {
    const parts = [
      this.down.size > 0 ? `down stores ${[...this.down].join(",")}` : "",
      this.partitionFilter?.description ?? "",
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
    if (this.partitionFilter?.decide(message, "send").kind === "drop") return DROP;
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

function combineDelays(first: FilterVerdict, second: FilterVerdict): FilterVerdict {
  const delayOf = (verdict: FilterVerdict): number => (verdict.kind === "delay" ? verdict.delayMs : 0);
  return { kind: "delay", delayMs: delayOf(first) + delayOf(second) };
}
