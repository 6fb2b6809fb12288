/**
 * The transaction client (TiKV's KVStore / client-go's txnkv.Client): begins transactions at a TSO
 * timestamp, takes snapshots at any timestamp, and owns what transactions leave running in the
 * background (secondary commits, rollbacks) so `close` can stop and await them.
 */
import { setMaxListeners } from "node:events";
import { addSpanEvent } from "#observability";
import { TaskScope } from "#runtime";
import { Backoffer } from "../backoff/backoffer.ts";
import { PdClient } from "../pd/pd-client.ts";
import { RegionCache } from "../region-cache/region-cache.ts";
import { RegionRequestSender } from "../rpc/region-request-sender.ts";
import { RpcClient } from "../rpc/rpc-client.ts";
import { Committer } from "./committer.ts";
import { type GcPd, type GcRoundReport, runGcRound } from "./gc-round.ts";
import { LockResolver } from "./lock-resolver.ts";
import { Snapshot } from "./snapshot.ts";
import { Transaction } from "./transaction.ts";
import { TxnArgumentError, TxnClosedError } from "./txn-errors.ts";
import type { TxnParts } from "./txn-parts.ts";
import { resolveTxnSettings, type TxnClientOptions, type TxnSettings } from "./txn-settings.ts";

export interface BeginOptions {
  /** Lock keys as statements run (lockKeys) instead of detecting conflicts at commit. */
  readonly pessimistic?: boolean;
  /** Read at this timestamp instead of a fresh one (stale reads, tests). */
  readonly startTs?: bigint;
}

/** The pieces a client runs on; `connect` builds them, tests may pass their own. */
export interface TxnClientParts {
  readonly regionCache: RegionCache;
  readonly rpc: RpcClient;
  readonly tso: () => Promise<bigint>;
  /** Where a GC round publishes its safe point (connect passes its pd client). */
  readonly gcPd?: GcPd;
  /** Runs on close after the cache and RPC client are closed. */
  readonly onClose?: () => Promise<void>;
}

export class TxnClient {
  private readonly parts: TxnParts;
  private readonly resolver: LockResolver;
  private readonly committer: Committer;
  private readonly closeController = new AbortController();
  private closed = false;

  constructor(
    private readonly owned: TxnClientParts,
    settings: TxnSettings = {},
  ) {
    const resolved = resolveTxnSettings(settings);
    setMaxListeners(0, this.closeController.signal);
    const background = new TaskScope({
      name: "transaction client",
      maxTasks: resolved.maxBackgroundTasks,
      onError: (error, task) =>
        resolved.logger?.warn({ err: error, task }, "background transaction work failed"),
    });
    const sender = new RegionRequestSender({
      regionCache: owned.regionCache,
      rpc: owned.rpc,
      timeoutMs: resolved.requestTimeoutMs,
      logger: resolved.logger,
    });
    const signal = this.closeController.signal;
    this.parts = {
      cache: owned.regionCache,
      sender,
      settings: resolved,
      tso: owned.tso,
      background,
      failpoints: resolved.failpoints,
      closed: signal,
      newBackoffer: (budgetMs) =>
        new Backoffer({
          budgetMs,
          clock: resolved.clock,
          timers: resolved.timers,
          random: resolved.random,
          signal,
          onSleep: (kind, sleepMs) =>
            addSpanEvent("backoff", { "backoff.kind": kind.name, "backoff.sleep_ms": sleepMs }),
        }),
    };
    this.resolver = new LockResolver(this.parts);
    this.committer = new Committer(this.parts, this.resolver);
  }

  static async connect(options: TxnClientOptions): Promise<TxnClient> {
    const settings = resolveTxnSettings(options);
    const shared = {
      clock: settings.clock,
      timers: settings.timers,
      random: settings.random,
      logger: settings.logger,
    };
    const pd = await PdClient.connect({ ...options.pd, ...shared, endpoints: options.pdEndpoints });
    const regionCache = new RegionCache({
      pd,
      clock: settings.clock,
      random: settings.random,
      logger: settings.logger,
      ttlMs: options.regionCacheTtlMs,
    });
    const rpc = new RpcClient({ ...options.rpc, ...shared, metrics: options.metrics });
    return new TxnClient(
      { regionCache, rpc, tso: () => pd.getTimestamp(), gcPd: pd, onClose: () => pd.close() },
      options,
    );
  }

  async begin(options: BeginOptions = {}): Promise<Transaction> {
    this.checkOpen("begin");
    const startTs = options.startTs ?? (await this.parts.tso());
    return new Transaction(
      this.parts,
      new Snapshot(this.parts, this.resolver, startTs),
      this.committer,
      this.resolver,
      options.pessimistic ?? false,
    );
  }

  /** Reads at `readTs` (a fresh TSO timestamp when omitted). */
  async snapshot(readTs?: bigint): Promise<Snapshot> {
    this.checkOpen("snapshot");
    return new Snapshot(this.parts, this.resolver, readTs ?? (await this.parts.tso()));
  }

  /**
   * One GC round below `safePoint` (see gc-round.ts). The GC worker calls it on its schedule; `ctl` and
   * tests call it directly.
   */
  async collectGarbage(safePoint: bigint): Promise<GcRoundReport> {
    this.checkOpen("collect garbage");
    if (this.owned.gcPd === undefined)
      throw new TxnArgumentError("this client was built without a pd to publish the safe point to");
    return runGcRound(this.parts, this.resolver, this.owned.gcPd, safePoint);
  }

  /** The GC safe point pd holds (0 before the first GC). */
  async gcSafePoint(): Promise<bigint> {
    this.checkOpen("read the GC safe point");
    if (this.owned.gcPd === undefined) throw new TxnArgumentError("this client was built without a pd");
    return this.owned.gcPd.getGcSafePoint();
  }

  /** A fresh timestamp from pd's TSO. */
  currentTimestamp(): Promise<bigint> {
    this.checkOpen("get a timestamp");
    return this.parts.tso();
  }

  /** Background work in flight (secondary commits, rollbacks). */
  get backgroundTasks(): number {
    return this.parts.background.size;
  }

  /** Waits for background work to finish (tests, graceful shutdown). */
  async drain(): Promise<void> {
    await this.parts.background.drain();
  }

  /** Stops background work (its locks are left to other clients' resolvers) and closes the connections. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.closeController.abort(new TxnClosedError("the transaction client is closing"));
    await this.parts.background.close();
    this.owned.rpc.close();
    this.owned.regionCache.close();
    await this.owned.onClose?.();
  }

  private checkOpen(operation: string): void {
    if (this.closed) throw new TxnClosedError(`cannot ${operation}: the transaction client is closed`);
  }
}
