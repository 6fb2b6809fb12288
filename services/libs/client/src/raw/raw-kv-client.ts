/**
 * The raw key-value client (TiKV's RawKVClient): plain get/put/delete/scan on the stores' raw key space,
 * no transactions. Every call locates its keys' regions in the region cache, sends through the region
 * request sender (which follows NotLeader, EpochNotMatch and the other region errors), and gives up only
 * when its backoff budget is spent, with an error listing every failure on the way.
 *
 * Reads are retried after any failure. A write is retried only after failures that prove it did not run
 * (a region error, a connection refused before sending); once its request may have run (a timeout, a
 * stream broken after sending, StaleCommand) it rejects with `UnknownOutcomeError`: the write may or may
 * not have taken effect, and resending it could apply it twice, the second time over newer writes.
 */
import { setMaxListeners } from "node:events";
import { compareBytes } from "#codec";
import { addSpanEvent, withSpan } from "#observability";
import type { kvrpcpb } from "#proto";
import { Backoffer } from "../backoff/backoffer.ts";
import { PdClient } from "../pd/pd-client.ts";
import { RegionCache } from "../region-cache/region-cache.ts";
import type { CommandRequest, CommandResponse } from "../rpc/batch-command.ts";
import { type RegionCommandCase, RegionRequestSender } from "../rpc/region-request-sender.ts";
import { RegionRetry } from "../rpc/region-retry.ts";
import { RpcClient } from "../rpc/rpc-client.ts";
import { ConcurrencyLimit } from "./concurrency-limit.ts";
import { keyHex } from "./key-range.ts";
import {
  type RawKvClientOptions,
  type RawKvSettings,
  type ResolvedRawKvSettings,
  resolveRawKvSettings,
} from "./raw-kv-client-options.ts";
import { RawKvArgumentError, RawKvClientClosedError, RawKvError } from "./raw-kv-errors.ts";
import { RawKvMetrics } from "./raw-kv-metrics.ts";
import type { RawParts } from "./raw-parts.ts";
import { runRegionBatches } from "./region-batches.ts";
import { deleteRangeByRegion } from "./region-ranges.ts";
import { describeKeyError, type RawKvPair, scanByRegion } from "./region-scan.ts";

export interface RawScanOptions {
  /** Largest keys first: the last `limit` keys of [startKey, endKey), descending. */
  readonly reverse?: boolean;
  /** Return keys with empty values. */
  readonly keyOnly?: boolean;
}

export interface CompareAndSwapResult {
  readonly succeeded: boolean;
  /** The value before the call (undefined when the key was absent), whether or not the swap happened. */
  readonly previous: Uint8Array | undefined;
}

/** The pieces a client runs on; `connect` builds them, tests may pass their own. */
export interface RawKvClientParts {
  readonly regionCache: RegionCache;
  readonly rpc: RpcClient;
  readonly metrics?: RawKvMetrics;
  /** Runs on close after the cache and RPC client are closed (connect closes its pd client here). */
  readonly onClose?: () => Promise<void>;
}

/** A multi-key call: its items (the last one given for a repeated key wins) and the command per region batch. */
interface BatchCommandJob<Item, Case extends RegionCommandCase> {
  readonly items: readonly Item[];
  readonly keyOf: (item: Item) => Uint8Array;
  readonly sizeOf: (item: Item) => number;
  readonly command: Case;
  readonly request: (context: kvrpcpb.Context, batch: readonly Item[]) => CommandRequest<Case>;
  /** Sees each region's answer; throws if the answer reports a failure. */
  readonly onAnswer: (response: CommandResponse<Case>, batch: readonly Item[]) => void;
}

/** Items that are bare keys, as in batchGet and batchDelete. */
const KEY_ITEMS = {
  keyOf: (key: Uint8Array) => key,
  sizeOf: (key: Uint8Array) => key.length,
};

// Largest value of the uint32 limit field of RawScanRequest.
const MAX_SCAN_LIMIT = 2 ** 32 - 1;

export class RawKvClient {
  private readonly parts: RawParts;
  private readonly settings: ResolvedRawKvSettings;
  /** Aborts every backoff sleep on close, so no call lingers on a timer after the client is gone. */
  private readonly closeController = new AbortController();
  private closed = false;

  constructor(
    private readonly owned: RawKvClientParts,
    settings: RawKvSettings = {},
  ) {
    this.settings = resolveRawKvSettings(settings);
    const sender = new RegionRequestSender({
      regionCache: owned.regionCache,
      rpc: owned.rpc,
      timeoutMs: this.settings.requestTimeoutMs,
      logger: this.settings.logger,
    });
    this.parts = { cache: owned.regionCache, sender, settings: this.settings };
    // One listener per call in flight; Node's warning at 11 would be a false alarm.
    setMaxListeners(0, this.closeController.signal);
  }

  /** Connects to pd (PdUnavailableError if no member answers) and builds the cache and RPC client. */
  static async connect(options: RawKvClientOptions): Promise<RawKvClient> {
    const settings = resolveRawKvSettings(options);
    const shared = {
      clock: settings.clock,
      timers: settings.timers,
      random: settings.random,
      logger: settings.logger,
    };
    const pd = await PdClient.connect({ ...options.pd, ...shared, endpoints: options.pdEndpoints });
    const metrics = options.metrics === undefined ? undefined : new RawKvMetrics(options.metrics);
    const regionCache = new RegionCache({
      pd,
      clock: settings.clock,
      random: settings.random,
      logger: settings.logger,
      ttlMs: options.regionCacheTtlMs,
      onLookup: (result) => metrics?.regionCacheLookups.inc({ result }),
    });
    const rpc = new RpcClient({ ...options.rpc, ...shared, metrics: options.metrics });
    return new RawKvClient({ regionCache, rpc, metrics, onClose: () => pd.close() }, options);
  }

  /** The value of `key`, or undefined when it is absent. */
  async get(key: Uint8Array): Promise<Uint8Array | undefined> {
    checkKey(key);
    return this.run("get", async (retry) => {
      const response = await this.sendToKey(key, "rawGet", (context) => ({ context, key }), retry);
      throwIfFailed("get", key, response.error);
      return response.notFound ? undefined : response.value;
    });
  }

  /** Values in the order of `keys` (undefined for absent keys); regions are read in parallel. */
  async batchGet(keys: readonly Uint8Array[]): Promise<Array<Uint8Array | undefined>> {
    keys.forEach(checkKey);
    const found = new Map<string, Uint8Array>();
    await this.runBatches("batchGet", {
      ...KEY_ITEMS,
      items: keys,
      command: "rawBatchGet",
      request: (context, batch) => ({ context, keys: [...batch] }),
      onAnswer: (response) => {
        for (const pair of response.pairs) {
          if (pair.error !== undefined) {
            throw new RawKvError({
              operation: "batchGet",
              key: pair.key,
              detail: describeKeyError(pair.error),
            });
          }
          found.set(keyHex(pair.key), pair.value);
        }
      },
    });
    return keys.map((key) => found.get(keyHex(key)));
  }

  async put(key: Uint8Array, value: Uint8Array): Promise<void> {
    checkKey(key);
    await this.run("put", async (retry) => {
      const response = await this.sendToKey(key, "rawPut", (context) => ({ context, key, value }), retry);
      throwIfFailed("put", key, response.error);
    });
  }

  /** Writes every pair (the last one wins for a repeated key); each region's share is atomic, not the whole. */
  async batchPut(pairs: readonly RawKvPair[]): Promise<void> {
    for (const pair of pairs) checkKey(pair.key);
    await this.runBatches("batchPut", {
      items: pairs,
      keyOf: (pair) => pair.key,
      sizeOf: (pair) => pair.key.length + pair.value.length,
      command: "rawBatchPut",
      request: (context, batch) => ({
        context,
        pairs: batch.map((pair) => ({ error: undefined, key: pair.key, value: pair.value })),
      }),
      onAnswer: (response, batch) => throwIfFailed("batchPut", batch[0]!.key, response.error),
    });
  }

  async delete(key: Uint8Array): Promise<void> {
    checkKey(key);
    await this.run("delete", async (retry) => {
      const response = await this.sendToKey(key, "rawDelete", (context) => ({ context, key }), retry);
      throwIfFailed("delete", key, response.error);
    });
  }

  async batchDelete(keys: readonly Uint8Array[]): Promise<void> {
    keys.forEach(checkKey);
    await this.runBatches("batchDelete", {
      ...KEY_ITEMS,
      items: keys,
      command: "rawBatchDelete",
      request: (context, batch) => ({ context, keys: [...batch] }),
      onAnswer: (response, batch) => throwIfFailed("batchDelete", batch[0]!, response.error),
    });
  }

  /**
   * Up to `limit` pairs of [startKey, endKey) (empty startKey = from the first key, empty endKey = to the
   * last), in ascending key order, or descending with `reverse`; regions are read one after another.
   */
  async scan(
    startKey: Uint8Array,
    endKey: Uint8Array,
    limit: number,
    options: RawScanOptions = {},
  ): Promise<RawKvPair[]> {
    checkRange(startKey, endKey);
    if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_SCAN_LIMIT) {
      throw new RawKvArgumentError(`scan limit must be an integer in [1, 2^32), got ${limit}`);
    }
    if (isEmptyRange(startKey, endKey)) return [];
    const reverse = options.reverse ?? false;
    const scanOptions = { reverse, keyOnly: options.keyOnly ?? false };
    return this.run(reverse ? "reverseScan" : "scan", (retry) =>
      scanByRegion(this.parts, { startKey, endKey }, limit, scanOptions, retry),
    );
  }

  /** Deletes every key in [startKey, endKey), one request per region, in parallel. */
  async deleteRange(startKey: Uint8Array, endKey: Uint8Array): Promise<void> {
    checkRange(startKey, endKey);
    if (isEmptyRange(startKey, endKey)) return;
    await this.run("deleteRange", (retry) =>
      deleteRangeByRegion(this.parts, { startKey, endKey }, retry, this.newLimit()),
    );
  }

  /** Sets `key` to `value` only if its current value is `expected` (undefined: only if it is absent). */
  async compareAndSwap(
    key: Uint8Array,
    expected: Uint8Array | undefined,
    value: Uint8Array,
  ): Promise<CompareAndSwapResult> {
    checkKey(key);
    return this.run("compareAndSwap", async (retry) => {
      const request = (context: kvrpcpb.Context) => ({
        context,
        key,
        value,
        previousValue: expected ?? new Uint8Array(),
        previousNotExist: expected === undefined,
      });
      const response = await this.sendToKey(key, "rawCompareAndSwap", request, retry);
      throwIfFailed("compareAndSwap", key, response.error);
      return {
        succeeded: response.succeed,
        previous: response.previousNotExist ? undefined : response.previousValue,
      };
    });
  }

  /** Fails calls in flight (their RPCs reject) and closes the cache, the streams and pd (when connect made it). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.closeController.abort(new RawKvClientClosedError("finish a call"));
    this.owned.rpc.close();
    this.owned.regionCache.close();
    await this.owned.onClose?.();
  }

  private async run<T>(operation: string, body: (retry: RegionRetry) => Promise<T>): Promise<T> {
    if (this.closed) throw new RawKvClientClosedError(operation);
    const { clock, timers, random, backoffBudgetMs } = this.settings;
    const metrics = this.owned.metrics;
    const newBackoffer = (budgetMs: number): Backoffer =>
      new Backoffer({
        budgetMs,
        clock,
        timers,
        random,
        signal: this.closeController.signal,
        onSleep: (kind, sleepMs) => {
          metrics?.backoffs.inc({ kind: kind.name });
          addSpanEvent("backoff", { "backoff.kind": kind.name, "backoff.sleep_ms": sleepMs });
        },
      });
    const startedMs = clock.monotonicMs();
    const observe = (outcome: "ok" | "error"): void =>
      metrics?.operationDuration.observe({ operation, outcome }, (clock.monotonicMs() - startedMs) / 1000);
    try {
      // One span per call, retries included; pd lookups it makes become its children.
      const result = await withSpan(`tikvclient.raw.${operation}`, {}, () =>
        body(new RegionRetry(newBackoffer(backoffBudgetMs))),
      );
      observe("ok");
      return result;
    } catch (error) {
      observe("error");
      throw error;
    }
  }

  /** A multi-key call: its distinct items grouped by region, each batch sent as one `command`. */
  private async runBatches<Item, Case extends RegionCommandCase>(
    operation: string,
    job: BatchCommandJob<Item, Case>,
  ): Promise<void> {
    await this.run(operation, (retry) =>
      runRegionBatches(
        this.parts,
        {
          items: distinctBy(job.items, job.keyOf),
          keyOf: job.keyOf,
          sizeOf: job.sizeOf,
          send: async (location, batch, subRetry) => {
            const build = (context: kvrpcpb.Context) => job.request(context, batch);
            const result = await this.parts.sender.send(location, job.command, build, subRetry);
            if (result.kind === "relocate") return false;
            job.onAnswer(result.response, batch);
            return true;
          },
        },
        retry,
        this.newLimit(),
      ),
    );
  }

  /** One key's command, relocated and resent until the key's region answers. */
  private async sendToKey<Case extends RegionCommandCase>(
    key: Uint8Array,
    command: Case,
    build: (context: kvrpcpb.Context) => CommandRequest<Case>,
    retry: RegionRetry,
  ): Promise<CommandResponse<Case>> {
    // Each round answers or relocates after a backoff or a bounded free retry; the budget bounds the loop.
    for (;;) {
      const location = await this.parts.cache.locateKey(key, retry.backoffer);
      const result = await this.parts.sender.send(location, command, build, retry, "leader");
      if (result.kind === "answered") return result.response;
    }
  }

  private newLimit(): ConcurrencyLimit {
    return new ConcurrencyLimit(this.settings.maxConcurrentRegionRequests);
  }
}

function checkKey(key: Uint8Array): void {
  if (key.length === 0) throw new RawKvArgumentError("raw keys must not be empty");
}

function checkRange(startKey: Uint8Array, endKey: Uint8Array): void {
  if (endKey.length > 0 && compareBytes(startKey, endKey) > 0) {
    throw new RawKvArgumentError(
      `range start ${keyHex(startKey)} is after its end ${keyHex(endKey)}; ranges are [startKey, endKey)`,
    );
  }
}

function isEmptyRange(startKey: Uint8Array, endKey: Uint8Array): boolean {
  return endKey.length > 0 && compareBytes(startKey, endKey) >= 0;
}

function throwIfFailed(operation: string, key: Uint8Array, error: string): void {
  if (error !== "") throw new RawKvError({ operation, key, detail: error });
}

/** One item per key, the last one given for a repeated key winning. */
function distinctBy<Item>(items: readonly Item[], keyOf: (item: Item) => Uint8Array): Item[] {
  return [...new Map(items.map((item) => [keyHex(keyOf(item)), item])).values()];
}
