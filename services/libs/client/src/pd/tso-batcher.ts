/**
 * Timestamps for many concurrent callers from one stream. Callers queue; a flush (one microtask after the
 * first caller of a turn, so every caller of that turn joins) sends the whole queue as ONE TsoRequest with
 * `count = n`; pd answers with the last timestamp of a run of n at one physical millisecond, which is split
 * back so caller i gets `last - (n - 1 - i)`. At most `maxInFlightBatches` requests are on the wire; callers
 * arriving meanwhile form the next batch.
 *
 * Failure policy (chosen so a caller never waits on an outcome nobody can know):
 * - the stream breaks (connection lost, server ended it, no answer for `stallTimeoutMs`): every request
 *   sent on it fails at once with PdUnavailableError; queued requests stay queued and go out on the new
 *   stream, opened after a jittered backoff to the (re)discovered leader.
 * - pd answers NOT_LEADER: that batch was certainly not served, so its callers are requeued once and sent
 *   to the named leader without backoff; a second NOT_LEADER for the same caller fails it.
 * - a request still unanswered at its deadline fails with TsoDeadlineExceededError naming the last cause;
 *   a late answer for it is dropped (a timestamp nobody uses is harmless).
 */

import { composeTimestamp, LOGICAL_LIMIT } from "#codec";
import type { Logger } from "#observability";
import { pdpb } from "#proto";
import { type Clock, type Random, sleep, type TaskScope, type TimerHandle, type Timers } from "#runtime";
import { ReconnectBackoff, type ReconnectBackoffPolicy } from "../backoff/reconnect-backoff.ts";
import type { PdChannels } from "./grpc-channels.ts";
import type { MemberDiscovery } from "./member-discovery.ts";
import {
  PdClientClosedError,
  PdClusterMismatchError,
  PdProtocolError,
  PdServerError,
  PdUnavailableError,
  TsoDeadlineExceededError,
  TsoQueueFullError,
  TsoStreamStalledError,
} from "./pd-errors.ts";
import { TsoStream, type TsoStreamEvents } from "./tso-stream.ts";

export interface TsoBatcherOptions {
  readonly discovery: MemberDiscovery;
  readonly channels: PdChannels;
  readonly clock: Clock;
  readonly timers: Timers;
  readonly random: Random;
  readonly backoff: ReconnectBackoffPolicy;
  readonly senderId: bigint;
  /** Bound on one TsoRequest's count; larger queues go out as several requests. */
  readonly maxBatchSize: number;
  readonly maxInFlightBatches: number;
  /** Bound on callers waiting to be sent; beyond it getTimestamp fails with TsoQueueFullError. */
  readonly maxPendingRequests: number;
  /** A stream whose oldest request is unanswered this long is considered hung and replaced. */
  readonly stallTimeoutMs: number;
  /** Bound on finding the leader before opening a stream. */
  readonly discoveryTimeoutMs: number;
  readonly closeSignal: AbortSignal;
  /** Owns the stream opening, so the client's close waits for one in flight. */
  readonly tasks: TaskScope;
  readonly logger?: Logger;
}

interface TsoWaiter {
  readonly deadlineAtMs: number;
  readonly timeoutMs: number;
  readonly resolve: (timestamp: bigint) => void;
  readonly reject: (error: Error) => void;
  settled: boolean;
  requeued: boolean;
}

interface InFlightBatch {
  readonly waiters: readonly TsoWaiter[];
  readonly sentAtMs: number;
}

export class TsoBatcher {
  private waiting: TsoWaiter[] = [];
  private inFlight: InFlightBatch[] = [];
  private stream: TsoStream | undefined;
  private opening = false;
  private flushScheduled = false;
  private deadlineTimer: TimerHandle | undefined;
  private deadlineTimerAtMs = Number.POSITIVE_INFINITY;
  private lastCause: unknown;
  private lastDelivered = 0n;
  private failuresSinceSuccess = 0;
  private closed = false;
  private readonly backoff: ReconnectBackoff;
  private readonly events: TsoStreamEvents = {
    onResponse: (stream, response) => this.onResponse(stream, response),
    onBroken: (stream, cause) => this.breakStream(stream, cause, { leaderFailed: true }),
  };
  private readonly flushTask = (): void => this.flush();

  constructor(private readonly options: TsoBatcherOptions) {
    this.backoff = new ReconnectBackoff(options.backoff, options.random);
  }

  getTimestamp(timeoutMs: number): Promise<bigint> {
    if (this.closed) return Promise.reject(new PdClientClosedError("get a timestamp"));
    if (this.waiting.length >= this.options.maxPendingRequests) {
      return Promise.reject(new TsoQueueFullError(this.options.maxPendingRequests));
    }
    return new Promise<bigint>((resolve, reject) => {
      const deadlineAtMs = this.options.clock.monotonicMs() + timeoutMs;
      this.waiting.push({ deadlineAtMs, timeoutMs, resolve, reject, settled: false, requeued: false });
      this.watchDeadline(deadlineAtMs);
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        queueMicrotask(this.flushTask);
      }
    });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.deadlineTimer?.cancel();
    this.stream?.close();
    this.stream = undefined;
    const error = new PdClientClosedError("get a timestamp");
    for (const batch of this.inFlight) rejectAll(batch.waiters, error);
    rejectAll(this.waiting, error);
    this.inFlight = [];
    this.waiting = [];
  }

  private flush(): void {
    this.flushScheduled = false;
    if (this.closed || this.waiting.length === 0) return;
    const stream = this.stream;
    if (stream === undefined) {
      this.ensureStream();
      return;
    }
    const leader = this.options.discovery.leader;
    if (leader !== undefined && leader !== stream.address) {
      // Answers are matched by position on one stream, so move only once this one has drained.
      if (this.inFlight.length === 0) this.replaceStream(stream);
      return;
    }
    const { maxBatchSize, maxInFlightBatches } = this.options;
    while (this.waiting.length > 0 && this.inFlight.length < maxInFlightBatches) {
      let waiters: TsoWaiter[];
      if (this.waiting.length <= maxBatchSize) {
        waiters = this.waiting;
        this.waiting = [];
      } else {
        waiters = this.waiting.splice(0, maxBatchSize);
      }
      this.inFlight.push({ waiters, sentAtMs: this.options.clock.monotonicMs() });
      stream.send(waiters.length);
    }
  }

  private replaceStream(stream: TsoStream): void {
    stream.close();
    this.stream = undefined;
    this.ensureStream();
  }

  private ensureStream(): void {
    if (this.stream !== undefined || this.opening || this.closed || this.options.closeSignal.aborted) return;
    this.opening = this.options.tasks.spawn("open the TSO stream", async () => {
      try {
        await this.openStream();
      } finally {
        this.opening = false;
        if (this.stream !== undefined) this.flush();
        else if (this.waiting.length > 0) this.ensureStream();
      }
    });
  }

  private async openStream(): Promise<void> {
    const { discovery, clock } = this.options;
    try {
      if (this.failuresSinceSuccess > 0) {
        await sleep(this.backoff.nextDelayMs(), this.options.timers, this.options.closeSignal);
      }
      const address = await discovery.leaderOrDiscover(clock.monotonicMs() + this.options.discoveryTimeoutMs);
      if (this.closed) return;
      const header = { clusterId: discovery.clusterId, senderId: this.options.senderId };
      this.stream = new TsoStream(this.options.channels.get(address), address, header, this.events);
    } catch (error) {
      if (this.closed) return;
      if (error instanceof PdClusterMismatchError) rejectAll(this.takeWaiting(), error);
      this.lastCause = error;
      this.failuresSinceSuccess++;
    }
  }

  private onResponse(stream: TsoStream, response: pdpb.TsoResponse): void {
    if (stream !== this.stream) return;
    const batch = this.inFlight.shift();
    if (batch === undefined) {
      this.breakStream(stream, new PdProtocolError(stream.address, "TSO answer without a request"), {
        leaderFailed: false,
      });
      return;
    }
    const error = response.header?.error;
    if (error !== undefined && error.type !== pdpb.ErrorType.OK) {
      this.onErrorResponse(stream, batch, error, response.header?.clusterId ?? 0n);
    } else {
      this.deliver(stream, batch, response);
    }
    this.flush();
  }

  private onErrorResponse(
    stream: TsoStream,
    batch: InFlightBatch,
    error: pdpb.Error,
    clusterId: bigint,
  ): void {
    const { discovery } = this.options;
    const endpoint = stream.address;
    if (error.type === pdpb.ErrorType.CLUSTER_MISMATCH) {
      const mismatch = new PdClusterMismatchError({
        expectedClusterId: discovery.clusterId,
        actualClusterId: clusterId,
        endpoint,
      });
      rejectAll(batch.waiters, mismatch);
      return;
    }
    const serverError = new PdServerError({
      operation: "Tso",
      endpoint,
      errorType: error.type,
      detail: error.message,
    });
    if (error.type !== pdpb.ErrorType.NOT_LEADER) {
      rejectAll(batch.waiters, serverError);
      return;
    }
    this.requeueOnce(batch, serverError);
    const followed = discovery.followLeaderHint(error.leader, endpoint);
    this.breakStream(stream, serverError, { leaderFailed: !followed });
  }

  private deliver(stream: TsoStream, batch: InFlightBatch, response: pdpb.TsoResponse): void {
    const count = batch.waiters.length;
    const run = this.checkedRun(response, count);
    if ("violation" in run) {
      const protocolError = new PdProtocolError(stream.address, run.violation);
      rejectAll(batch.waiters, protocolError);
      this.breakStream(stream, protocolError, { leaderFailed: false });
      return;
    }
    const first = run.first;
    this.lastDelivered = first + BigInt(count - 1);
    this.failuresSinceSuccess = 0;
    this.backoff.reset();
    this.lastCause = undefined;
    let timestamp = first;
    for (const waiter of batch.waiters) {
      if (!waiter.settled) {
        waiter.settled = true;
        waiter.resolve(timestamp);
      }
      timestamp++;
    }
  }

  /** The first timestamp of the run answering `count` callers, or how the answer breaks the protocol. */
  private checkedRun(
    response: pdpb.TsoResponse,
    count: number,
  ): { readonly first: bigint } | { readonly violation: string } {
    const last = response.timestamp;
    if (last === undefined || response.count !== count) {
      return {
        violation: `asked for ${count} timestamps, got ${last === undefined ? "none" : response.count}`,
      };
    }
    if (last.logical >= BigInt(LOGICAL_LIMIT) || last.logical < BigInt(count - 1)) {
      return { violation: `logical ${last.logical} cannot end a run of ${count} within one millisecond` };
    }
    const first = composeTimestamp(last.physical, last.logical) - BigInt(count - 1);
    if (first <= this.lastDelivered) {
      return { violation: `timestamp went back: ${first} after ${this.lastDelivered}` };
    }
    return { first };
  }

  private requeueOnce(batch: InFlightBatch, cause: Error): void {
    const again: TsoWaiter[] = [];
    for (const waiter of batch.waiters) {
      if (waiter.settled) continue;
      if (waiter.requeued) {
        waiter.settled = true;
        waiter.reject(cause);
      } else {
        waiter.requeued = true;
        again.push(waiter);
      }
    }
    this.waiting = again.concat(this.waiting);
  }

  /** Fails what was sent on `stream` (its answers are lost) and arranges a new stream for what is queued. */
  private breakStream(stream: TsoStream, cause: unknown, options: { readonly leaderFailed: boolean }): void {
    if (stream !== this.stream) return;
    this.stream = undefined;
    stream.close();
    this.lastCause = cause;
    const error = new PdUnavailableError({
      operation: "getting a timestamp",
      endpoints: [stream.address],
      lastCause: cause,
    });
    for (const batch of this.inFlight) rejectAll(batch.waiters, error);
    this.inFlight = [];
    if (options.leaderFailed) {
      this.options.discovery.leaderFailed(stream.address);
      this.failuresSinceSuccess++;
    }
    this.options.logger?.warn({ err: cause, endpoint: stream.address }, "pd TSO stream broke");
    if (this.waiting.length > 0) this.ensureStream();
  }

  /** One timer, armed for the earliest deadline; callers with later deadlines (the usual case) arm nothing. */
  private watchDeadline(deadlineAtMs: number): void {
    if (this.deadlineTimer !== undefined && deadlineAtMs >= this.deadlineTimerAtMs) return;
    this.deadlineTimer?.cancel();
    this.deadlineTimerAtMs = deadlineAtMs;
    const delayMs = Math.max(0, deadlineAtMs - this.options.clock.monotonicMs());
    this.deadlineTimer = this.options.timers.setTimeout(() => this.onDeadlineTimer(), delayMs);
  }

  private onDeadlineTimer(): void {
    this.deadlineTimer = undefined;
    this.deadlineTimerAtMs = Number.POSITIVE_INFINITY;
    const nowMs = this.options.clock.monotonicMs();
    let nextDeadlineAtMs = Number.POSITIVE_INFINITY;
    const stillWaiting: TsoWaiter[] = [];
    for (const waiter of this.waiting) {
      if (this.expireIfDue(waiter, nowMs)) continue;
      stillWaiting.push(waiter);
      nextDeadlineAtMs = Math.min(nextDeadlineAtMs, waiter.deadlineAtMs);
    }
    this.waiting = stillWaiting;
    for (const batch of this.inFlight) {
      for (const waiter of batch.waiters) {
        if (!waiter.settled && !this.expireIfDue(waiter, nowMs)) {
          nextDeadlineAtMs = Math.min(nextDeadlineAtMs, waiter.deadlineAtMs);
        }
      }
    }
    const oldest = this.inFlight[0];
    if (oldest !== undefined && this.stream !== undefined) {
      const stalledAtMs = oldest.sentAtMs + this.options.stallTimeoutMs;
      if (stalledAtMs <= nowMs) {
        const cause = new TsoStreamStalledError(this.stream.address, this.options.stallTimeoutMs);
        this.breakStream(this.stream, cause, { leaderFailed: true });
      } else {
        nextDeadlineAtMs = Math.min(nextDeadlineAtMs, stalledAtMs);
      }
    }
    if (nextDeadlineAtMs < Number.POSITIVE_INFINITY) this.watchDeadline(nextDeadlineAtMs);
  }

  private expireIfDue(waiter: TsoWaiter, nowMs: number): boolean {
    if (waiter.deadlineAtMs > nowMs) return false;
    waiter.settled = true;
    waiter.reject(new TsoDeadlineExceededError(waiter.timeoutMs, this.lastCause));
    return true;
  }

  private takeWaiting(): TsoWaiter[] {
    const taken = this.waiting;
    this.waiting = [];
    return taken;
  }
}

function rejectAll(waiters: readonly TsoWaiter[], error: Error): void {
  for (const waiter of waiters) {
    if (waiter.settled) continue;
    waiter.settled = true;
    waiter.reject(error);
  }
}
