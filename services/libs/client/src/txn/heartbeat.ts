/**
 * Keeps a transaction's primary lock alive while the transaction lives (client-go's ttlManager). Locks
 * carry a TTL so a vanished client's transaction can be rolled back; a live one that holds locks longer
 * (a pessimistic transaction between statements, a big commit) raises its primary's TTL before it runs
 * out. The heartbeat runs in the client's task scope and stops when the transaction ends, the client
 * closes, or the store says the lock is gone.
 */
import { kvrpcpb } from "#proto";
import { sleep } from "#runtime";
import { RegionRetry } from "../rpc/region-retry.ts";
import { sendToKey } from "./region-requests.ts";
import type { TxnParts } from "./txn-parts.ts";

export class TxnHeartbeat {
  private readonly stopped = new AbortController();
  private started = false;

  constructor(
    private readonly parts: TxnParts,
    private readonly primary: () => Uint8Array | undefined,
    private readonly startTs: bigint,
    private readonly startedAtMs: number,
  ) {}

  /** Starts beating (once); a no-op when the client's background work is full or closing. */
  start(): void {
    if (this.started) return;
    this.started = true;
    const spawned = this.parts.background.spawn(`heartbeat of ${this.startTs}`, (signal) => this.run(signal));
    if (!spawned)
      this.parts.settings.logger?.warn({ startTs: this.startTs }, "transaction heartbeat not started");
  }

  stop(): void {
    this.stopped.abort();
  }

  private async run(scopeSignal: AbortSignal): Promise<void> {
    const signal = AbortSignal.any([scopeSignal, this.stopped.signal]);
    const { clock, timers, managedLockTtlMs } = this.parts.settings;
    while (!signal.aborted) {
      try {
        await sleep(managedLockTtlMs / 2, timers, signal);
      } catch (error) {
        if (signal.aborted) return;
        throw error;
      }
      const primary = this.primary();
      if (primary === undefined) continue;
      const ttl = BigInt(Math.ceil(clock.monotonicMs() - this.startedAtMs + managedLockTtlMs));
      const retry = new RegionRetry(this.parts.newBackoffer(this.parts.settings.readBudgetMs));
      const response = await sendToKey(
        this.parts,
        primary,
        "txnHeartBeat",
        (context) =>
          kvrpcpb.TxnHeartBeatRequest.fromPartial({
            context,
            primaryLock: primary,
            startTs: this.startTs,
            adviseLockTtlMs: ttl,
          }),
        retry,
      );
      // No lock of ours there: committed, rolled back, or never prewritten yet; nothing more to keep alive.
      if (response.error !== undefined) return;
    }
  }
}
