/**
 * Test-only: a RegionCache over a FakePd on virtual time, with helpers that locate keys and make contexts
 * while stepping the scheduler through any backoff sleeps. Not exported from the library.
 */
import assert from "node:assert/strict";
import { SeededRandom } from "#runtime";
import { Scheduler, VirtualClock } from "#sim";
import { Backoffer } from "../backoff/backoffer.ts";
import type { KeyLocation } from "../region-cache/key-location.ts";
import { RegionCache } from "../region-cache/region-cache.ts";
import type { ReplicaReadMode, RpcContext } from "../region-cache/rpc-context.ts";
import { FakePd, key } from "./fake-pd.ts";
import { settle } from "./virtual-time.ts";

export interface SetupOptions {
  readonly pd?: FakePd;
  readonly ttlMs?: number;
  readonly ttlJitterMs?: number;
  readonly scanBatchSize?: number;
  readonly seed?: number;
  readonly budgetMs?: number;
}

export function setupCache(options: SetupOptions = {}) {
  const pd = options.pd ?? FakePd.withLayout(["m"]);
  const scheduler = new Scheduler();
  const clock = new VirtualClock(scheduler);
  const random = new SeededRandom(options.seed ?? 1);
  const lookups = { hit: 0, miss: 0 };
  const sleeps: string[] = [];
  const cache = new RegionCache({
    pd,
    clock,
    random: random.fork(),
    ttlMs: options.ttlMs,
    ttlJitterMs: options.ttlJitterMs,
    scanBatchSize: options.scanBatchSize,
    onLookup: (result) => lookups[result]++,
  });
  const backoffer = (): Backoffer =>
    new Backoffer({
      budgetMs: options.budgetMs ?? 20_000,
      clock,
      timers: clock,
      random: random.fork(),
      onSleep: (kind) => sleeps.push(kind.name),
    });
  const run = <T>(promise: Promise<T>): Promise<T> => settle(scheduler, promise);
  const locate = (at: string): Promise<KeyLocation> => run(cache.locateKey(key(at), backoffer()));
  const context = async (at: string, mode?: ReplicaReadMode, seed?: number): Promise<RpcContext> => {
    const location = await locate(at);
    const found = await run(cache.getRpcContext(location.region, mode, seed));
    assert.ok(found, `no rpc context for ${at}`);
    return found;
  };
  return { pd, scheduler, cache, lookups, sleeps, backoffer, run, locate, context };
}
