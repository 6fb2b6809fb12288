/**
 * Everything the raftstore's parts share: this store's identity, engines, configuration, the outside
 * world (transport, pd), and the region bookkeeping. Built once by `Store.open`.
 */
import type { Logger } from "#observability";
import type { metapb, pdpb, raft_serverpb } from "#proto";
import type { Clock, Random, TaskScope, Timers } from "#runtime";
import type { KvEngine } from "../engine/kv-engine.ts";
import type { RaftLogStore } from "../engine/raft-log-store.ts";
import type { SnapshotStore } from "../snapshot/snapshot-store.ts";
import type { RaftstoreMetrics } from "./metrics.ts";
import type { Peer } from "./peer.ts";
import type { RaftstoreConfig } from "./raftstore-config.ts";
import { ServerIsBusyError } from "./region-errors.ts";
import type { StoreMeta } from "./store-meta.ts";
import type { Turn } from "./turn.ts";

/** How the store sends raft traffic; failures come back through `Store.reportUnreachable`. */
export interface RaftTransport {
  /** Messages for one store, sent together (one batch per destination and turn). */
  send(storeId: bigint, messages: readonly raft_serverpb.RaftMessage[]): void;
  /** Resolves once the other store accepted the whole snapshot; rejects otherwise. */
  sendSnapshot(
    storeId: bigint,
    message: raft_serverpb.RaftMessage,
    chunks: AsyncIterable<Uint8Array>,
  ): Promise<void>;
}

/** What the raftstore asks pd (the real pd client satisfies it). */
export interface RaftstorePdClient {
  /** Ids for `splitCount` new regions: one region id and one peer id per peer of `region` each. */
  askBatchSplit(region: metapb.Region, splitCount: number): Promise<pdpb.SplitID[]>;
  /** Every region a split produced, the parent included. */
  reportBatchSplit(regions: readonly metapb.Region[]): Promise<void>;
  /** The region as pd knows it, to learn whether a long-isolated peer was removed meanwhile. */
  getRegionById(regionId: bigint): Promise<{ readonly region: metapb.Region } | undefined>;
}

/** Told about changes pd should hear about soon (the pd worker sends region heartbeats on them). */
export interface StoreObserver {
  regionChanged?(regionId: bigint): void;
}

export interface StoreEngines {
  readonly kvEngine: KvEngine;
  readonly raftLogStore: RaftLogStore;
  readonly snapshotStore: SnapshotStore;
}

/** What the store loop offers the rest of the raftstore (the loop sets it when it starts). */
export interface LoopHandle {
  /** Closed or stopped by a fatal error: no turn will run again. */
  isStopped(): boolean;
  /** Marks a peer as having work for the next turn. */
  wake(peer: Peer): void;
  /**
   * Runs `change` at the start of the next turn with the turn's capability and resolves with its result;
   * rejects when the loop is closed or its queue of such changes is full.
   */
  runInTurn<T>(label: string, change: (turn: Turn) => T): Promise<T>;
}

const NO_LOOP: LoopHandle = {
  isStopped: () => true,
  wake: () => undefined,
  runInTurn: () => Promise.reject(new ServerIsBusyError("the store loop is not running", 0)),
};

export class StoreContext {
  loop: LoopHandle = NO_LOOP;
  /** Proposals queued or awaiting apply on the whole store (bounded by `maxPendingProposals`). */
  pendingProposals = 0;
  /** Reads waiting for a read index on the whole store (bounded by `maxPendingReads`). */
  pendingReads = 0;
  private lastProposalId = 0n;
  private lastReadId = 0n;

  constructor(
    readonly storeId: bigint,
    readonly engines: StoreEngines,
    readonly config: RaftstoreConfig,
    readonly meta: StoreMeta,
    readonly transport: RaftTransport,
    readonly pd: RaftstorePdClient,
    readonly observer: StoreObserver,
    readonly metrics: RaftstoreMetrics,
    readonly logger: Logger,
    readonly clock: Clock,
    readonly timers: Timers,
    readonly random: Random,
    /** Owns every background task of the raftstore (split checks, snapshot work, pd calls). */
    readonly scope: TaskScope,
  ) {}

  wake(peer: Peer): void {
    this.loop.wake(peer);
  }

  nextProposalId(): bigint {
    this.lastProposalId++;
    return this.lastProposalId;
  }

  nextReadId(): bigint {
    this.lastReadId++;
    return this.lastReadId;
  }

  regionChanged(regionId: bigint): void {
    this.observer.regionChanged?.(regionId);
  }
}
