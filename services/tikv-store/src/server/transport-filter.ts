/**
 * Fault injection for raft traffic between stores, in the manner of TinyKV's `test_raftstore` filters:
 * cluster tests install filters on a store's transport to make the network unreliable, cut it into
 * partitions or slow it down, and clear them to heal it. Production code never installs one; the filters
 * themselves are test support (testing/transport-filters.ts), only the hook lives here.
 *
 * A filter is consulted for every raft message (snapshots included) on the side it applies to: `send` in
 * the sending store's transport, `receive` in the receiving store's raft service. Raft tolerates lost,
 * late and duplicated messages, so dropping here exercises exactly the recovery paths a real network does.
 */
import type { raft_serverpb } from "#proto";

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

export function onSide(side: FilterSide, direction: TransportDirection): boolean {
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
