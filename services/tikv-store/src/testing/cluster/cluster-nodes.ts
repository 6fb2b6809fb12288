import { join } from "node:path";
import type { Registry } from "prom-client";
import type { Logger } from "#observability";
import type { metapb } from "#proto";
import type { RaftstoreConfig } from "../../raftstore/raftstore-config.ts";
import type { Store } from "../../raftstore/store.ts";
import type { ClusterFaults } from "./cluster-faults.ts";

/**
 * How the stores of a StoreCluster talk: "local" joins Store instances through an in-process hub and a
 * fake pd (fast, every message in reach of a test); "grpc" runs each store's whole server (gRPC, raft
 * transport, pd worker) against a real pd.
 */
export type ClusterTransport = "local" | "grpc";

/** What every transport's nodes are built from. */
export interface NodeSettings {
  /** Holds `store-<index>` (and pd's) data directories. */
  readonly root: string;
  readonly stores: number;
  readonly seed: number;
  readonly raftstore: RaftstoreConfig;
  /** Consulted for every raft message of every store. */
  readonly faults: ClusterFaults;
  readonly logger: Logger;
  /** A store whose raftstore stopped on a fatal error reports it here instead of crashing the process. */
  readonly onFatal: (error: Error) => void;
}

/** The stores of a StoreCluster over one transport: how they start, crash and are reached, by index. */
export interface ClusterNodes {
  /**
   * Starts every store. The first region is on store 0, and, where the transport can bootstrap it so,
   * on stores 1 … replicas-1 as well; the harness adds whatever voters are still missing.
   */
  startAll(replicas: number): Promise<void>;
  /** Starts store `index` again on its data directory; its id does not change. */
  start(index: number): Promise<Store>;
  /** Closes store `index` as a crash would leave it: its volatile state gone, its disk kept. */
  stop(index: number): Promise<void>;
  /** The running store `index`, if it runs. */
  store(index: number): Store | undefined;
  /** The store's id; throws for a store never started. */
  storeId(index: number): bigint;
  /** The running store's metrics, `store_*` as in production. */
  metrics(index: number): Registry;
  allocId(): Promise<bigint>;
  /** Every region pd knows, in key order. */
  regions(): Promise<metapb.Region[]>;
  /** Stops every store and what else the transport runs (pd, timers); the data stays for the harness to remove. */
  close(): Promise<void>;
}

/** Where store `index` keeps its data, across restarts. */
export function storeDirectory(root: string, index: number): string {
  return join(root, `store-${index}`);
}
