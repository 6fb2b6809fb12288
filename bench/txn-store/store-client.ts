/**
 * The benchmark's client side: one pd client, one region cache and one store RPC client (BatchCommands
 * streams), shared by the raw path (RawKvClient, as bench:kv drives it) and the transactional path (the
 * region request sender, which routes a key to its region's leader and follows region errors). Sharing
 * them keeps the two paths' figures comparable: same connections, same batching, same routing.
 */
import { setMaxListeners } from "node:events";
import type { Registry } from "prom-client";
import {
  Backoffer,
  type CommandRequest,
  type CommandResponse,
  DEFAULT_RAW_REQUEST_TIMEOUT_MS,
  PdClient,
  RawKvClient,
  RawKvMetrics,
  RegionCache,
  type RegionCommandCase,
  RegionRequestSender,
  RegionRetry,
  RpcClient,
} from "#client";
import { createRegistry, MetricFactory } from "#observability";
import type { kvrpcpb } from "#proto";
import { systemClock, systemRandom, systemTimers } from "#runtime";

const METRICS_PREFIX = "bench";

export class StoreClient {
  /** Aborts every backoff sleep of the transactional path on close. */
  private readonly closeController = new AbortController();

  private constructor(
    readonly pd: PdClient,
    /** The raw path; owns the cache, the RPC client and (on close) pd. */
    readonly raw: RawKvClient,
    private readonly sender: RegionRequestSender,
    private readonly regionCache: RegionCache,
    private readonly metrics: RawKvMetrics,
    private readonly registry: Registry,
  ) {
    // One listener per backoff sleep in flight; Node's warning at 11 would be a false alarm.
    setMaxListeners(0, this.closeController.signal);
  }

  static async connect(pdUrl: string): Promise<StoreClient> {
    const registry = createRegistry(METRICS_PREFIX);
    const factory = new MetricFactory(registry, METRICS_PREFIX);
    const pd = await PdClient.connect({ endpoints: [pdUrl] });
    try {
      const metrics = new RawKvMetrics(factory);
      const regionCache = new RegionCache({
        pd,
        clock: systemClock,
        random: systemRandom,
        onLookup: (result) => metrics.regionCacheLookups.inc({ result }),
      });
      const rpc = new RpcClient({ metrics: factory });
      const raw = new RawKvClient({ regionCache, rpc, metrics, onClose: () => pd.close() });
      const sender = new RegionRequestSender({ regionCache, rpc, timeoutMs: DEFAULT_RAW_REQUEST_TIMEOUT_MS });
      return new StoreClient(pd, raw, sender, regionCache, metrics, registry);
    } catch (error) {
      await pd.close();
      throw error;
    }
  }

  /** A fresh retry state with `budgetMs` of backoff, counted in the same backoff metric as the raw path's. */
  newRetry(budgetMs: number): RegionRetry {
    return new RegionRetry(
      new Backoffer({
        budgetMs,
        clock: systemClock,
        timers: systemTimers,
        random: systemRandom,
        signal: this.closeController.signal,
        onSleep: (kind) => this.metrics.backoffs.inc({ kind: kind.name }),
      }),
    );
  }

  /**
   * Sends one key's command to the leader of the key's region (located in the cache, loaded from pd on a
   * miss), relocating and resending after region errors until a store answers or the retry's budget is
   * spent. Writes whose outcome became unknown are not resent (UnknownOutcomeError).
   */
  async sendToKey<Case extends RegionCommandCase>(
    key: Uint8Array,
    command: Case,
    build: (context: kvrpcpb.Context) => CommandRequest<Case>,
    retry: RegionRetry,
  ): Promise<CommandResponse<Case>> {
    // Each round answers or relocates after a backoff or a bounded free retry; the budget bounds the loop.
    for (;;) {
      const location = await this.regionCache.locateKey(key, retry.backoffer);
      const result = await this.sender.send(location, command, build, retry, "leader");
      if (result.kind === "answered") return result.response;
    }
  }

  /** Backoffs so far by kind, both paths together (rows run one at a time, so deltas belong to a row). */
  async backoffs(): Promise<Map<string, number>> {
    const counter = this.registry.getSingleMetric(`${METRICS_PREFIX}_tikvclient_backoff_total`);
    const values = (await counter?.get())?.values ?? [];
    return new Map(values.map((sample) => [String(sample.labels.kind), sample.value]));
  }

  async close(): Promise<void> {
    this.closeController.abort(new Error("the benchmark client closed"));
    await this.raw.close();
  }
}
