/**
 * The cluster's GC worker (TiDB's gc_worker): every `intervalMs`, the one instance holding the GC lease
 * runs a GC round at safe point = now − `lifeTimeMs` (TiDB's tidb_gc_life_time, 10 min). Any number of
 * gateways may run a worker; the lease (a compare-and-swap on a raw key, timed by the TSO's physical
 * clock, so no two processes' clocks are compared) makes exactly one of them collect at a time, and
 * another takes over when its holder stops renewing.
 */
import { composeTimestamp, physicalMsOf } from "#codec";
import type { Logger } from "#observability";
import { sleep, TaskScope, type Timers } from "#runtime";
import type { RawKvClient } from "../raw/raw-kv-client.ts";
import type { GcRoundReport } from "./gc-round.ts";
import type { TxnClient } from "./txn-client.ts";

export const GC_LEADER_KEY = new TextEncoder().encode("\u0000tessera/gc/leader");

export interface GcWorkerOptions {
  readonly txn: TxnClient;
  readonly raw: RawKvClient;
  /** Unique per worker (for example the gateway's address and pid). */
  readonly owner: string;
  /** Versions younger than this are kept [600 000 ms]. */
  readonly lifeTimeMs?: number;
  /** How often a round runs [600 000 ms]. */
  readonly intervalMs?: number;
  /** How long the lease lasts without renewal [3 × interval]. */
  readonly leaseMs?: number;
  readonly timers: Timers;
  readonly logger?: Logger;
  /** Told about every round that ran (metrics, tests). */
  readonly onRound?: (report: GcRoundReport) => void;
}

export class GcWorker {
  private readonly scope: TaskScope;
  private readonly lifeTimeMs: number;
  private readonly intervalMs: number;
  private readonly leaseMs: number;

  constructor(private readonly options: GcWorkerOptions) {
    this.lifeTimeMs = options.lifeTimeMs ?? 600_000;
    this.intervalMs = options.intervalMs ?? 600_000;
    this.leaseMs = options.leaseMs ?? 3 * this.intervalMs;
    if (!(this.lifeTimeMs >= 0 && this.intervalMs > 0 && this.leaseMs > this.intervalMs)) {
      throw new RangeError("GC worker: life time >= 0, interval > 0 and a lease longer than the interval");
    }
    this.scope = new TaskScope({
      name: "gc worker",
      onError: (error, task) => options.logger?.warn({ err: error, task }, "GC worker task failed"),
    });
  }

  start(): void {
    this.scope.spawn("gc loop", (signal) => this.loop(signal));
  }

  async close(): Promise<void> {
    await this.scope.close();
  }

  /** Runs one round now if this worker holds (or can take) the lease; undefined when another one leads. */
  async runOnce(): Promise<GcRoundReport | undefined> {
    const now = await this.options.txn.currentTimestamp();
    if (!(await this.holdLease(now))) return undefined;
    const safePoint = composeTimestamp(physicalMsOf(now) - BigInt(this.lifeTimeMs), 0n);
    const report = await this.options.txn.collectGarbage(safePoint);
    this.options.onRound?.(report);
    return report;
  }

  private async loop(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      try {
        await this.runOnce();
      } catch (error) {
        // A round that failed (a live old transaction, an unreachable region) is tried again next time.
        this.options.logger?.warn({ err: error }, "GC round failed");
      }
      try {
        await sleep(this.intervalMs, this.options.timers, signal);
      } catch (error) {
        if (signal.aborted) return;
        throw error;
      }
    }
  }

  /** Takes the lease if it is free or expired, renews it if ours; false when another owner holds it. */
  private async holdLease(now: bigint): Promise<boolean> {
    const nowMs = physicalMsOf(now);
    const current = await this.options.raw.get(GC_LEADER_KEY);
    if (current !== undefined) {
      const [owner, expiresAt] = new TextDecoder().decode(current).split("|");
      if (owner !== this.options.owner && BigInt(expiresAt ?? "0") > nowMs) return false;
    }
    const next = new TextEncoder().encode(`${this.options.owner}|${nowMs + BigInt(this.leaseMs)}`);
    const swapped = await this.options.raw.compareAndSwap(GC_LEADER_KEY, current, next);
    return swapped.succeeded;
  }
}
