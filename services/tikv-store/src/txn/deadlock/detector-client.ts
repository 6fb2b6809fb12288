/**
 * Each store's link to the cluster's deadlock detector (TiKV's detector in its follower role, with its
 * `Client`). The lock-wait manager hands it wait-for edges to check (`detect`) and edges to forget
 * (`cleanUpWaitFor`). It finds the detector with the injected `resolveDetector` (the store asks pd for the
 * leader of the first region), calls the detector directly when it runs on this store, and otherwise keeps
 * one bidirectional `Detect` stream to it, requests in order.
 *
 * Every detect ends within `detectTimeoutMs`: answered (deadlock or not), or "unavailable" — the detector
 * could not be found or reached, moved (NOT_LEADER), has a full graph, or this client's queue is full, or
 * it is backing off after a failure. An unavailable detect only loses detection: the waiter keeps waiting,
 * refreshes its edge later (which asks again) and at worst times out. Clean-ups are never answered and may
 * be dropped on a failure; the detector's TTL removes what they would have.
 *
 * A failure — a broken stream, a NOT_LEADER answer, a detect left unanswered on an open stream, a failed
 * lookup — ends every pending detect as unavailable at once, forgets the queued clean-ups, and starts an
 * exponential, jittered, capped backoff; until it ends detects are answered unavailable without queueing,
 * and the next request after it looks the detector up again.
 */
import { checkReconnectBackoffPolicy, ReconnectBackoff, type ReconnectBackoffPolicy } from "#client";
import type { Logger } from "#observability";
import { deadlock } from "#proto";
import { asError, type Random, TaskScope, type TimerHandle, type Timers, untilAborted } from "#runtime";
import { type DetectorLocation, DetectStream, type DetectStreamEvents } from "./detect-stream.ts";
import type { DeadlockDetector, DeadlockFound, DetectorAnswer, WaitForEdgeId } from "./detector.ts";
import type { WaitForEdge } from "./wait-for-graph.ts";

export type DetectOutcome =
  | { readonly kind: "no-deadlock" }
  | DeadlockFound
  /** No detection happened; `reason` says why, for logs. */
  | { readonly kind: "unavailable"; readonly reason: string };

/** What a lock-wait manager needs from detection; `DetectorClient` is the real one. */
export interface DeadlockDetection {
  /** Never rejects. */
  detect(edge: WaitForEdge): Promise<DetectOutcome>;
  cleanUpWaitFor(edge: WaitForEdgeId): void;
}

export interface DetectorClientOptions {
  /** This store: when the detector is here, `localDetector` is called without gRPC. */
  readonly storeId: bigint;
  readonly localDetector: DeadlockDetector;
  /** The store leading the first region and its address, or undefined when none is known. */
  readonly resolveDetector: () => Promise<DetectorLocation | undefined>;
  /** Requests queued and detects awaiting an answer, each at most [4096]. */
  readonly maxPendingRequests?: number;
  /** A detect unanswered this long ends unavailable; on an open stream the stream counts as broken [2 s]. */
  readonly detectTimeoutMs?: number;
  /** Bound on looking the detector up, and on connecting to it [2 s]. */
  readonly connectTimeoutMs?: number;
  /** Delays between lookups after failures [100 ms doubling to 3 s, like raft streams]. */
  readonly backoff?: ReconnectBackoffPolicy;
  /** gRPC message bound; a deadlock answer carries the whole cycle's keys [64 MiB, the store's default]. */
  readonly maxMessageBytes?: number;
  readonly timers: Timers;
  readonly random: Random;
  readonly logger: Logger;
}

export const DEFAULT_MAX_PENDING_DETECTOR_REQUESTS = 4_096;
/** The detector answers from memory in microseconds; two seconds of silence means it is gone. */
export const DEFAULT_DETECT_TIMEOUT_MS = 2_000;
export const DEFAULT_DETECTOR_CONNECT_TIMEOUT_MS = 2_000;
export const DEFAULT_DETECTOR_RECONNECT_BACKOFF: ReconnectBackoffPolicy = { baseMs: 100, capMs: 3_000 };
const DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024 * 1024;

interface PendingDetect {
  readonly resolve: (outcome: DetectOutcome) => void;
  readonly timer: TimerHandle;
  /** Written to the stream: from then on only an answer or the stream's failure ends it. */
  sent: boolean;
}

interface QueuedRequest {
  readonly request: deadlock.DeadlockRequest;
}

/** The stream to a remote detector, and whether gRPC asked us to stop writing until it drains. */
interface RemoteLink {
  readonly kind: "remote";
  readonly stream: DetectStream;
  waitingForDrain: boolean;
}

type Link =
  | { readonly kind: "idle" }
  | { readonly kind: "connecting" }
  | { readonly kind: "local" }
  | RemoteLink
  | { readonly kind: "backoff"; readonly timer: TimerHandle; readonly reason: string }
  | { readonly kind: "closed" };

export class DetectorClient implements DeadlockDetection, DetectStreamEvents {
  private link: Link = { kind: "idle" };
  private queue: QueuedRequest[] = [];
  private readonly pending = new Map<bigint, PendingDetect>();
  private nextRequestId = 1n;
  private readonly reconnectBackoff: ReconnectBackoff;
  /** Owns the lookup and connection attempt, the only work not driven by a caller or a stream event. */
  private readonly tasks: TaskScope;
  private readonly maxPending: number;
  private readonly detectTimeoutMs: number;
  private readonly connectTimeoutMs: number;

  constructor(private readonly options: DetectorClientOptions) {
    const backoff = options.backoff ?? DEFAULT_DETECTOR_RECONNECT_BACKOFF;
    checkReconnectBackoffPolicy(backoff);
    this.reconnectBackoff = new ReconnectBackoff(backoff, options.random);
    this.maxPending = options.maxPendingRequests ?? DEFAULT_MAX_PENDING_DETECTOR_REQUESTS;
    this.detectTimeoutMs = options.detectTimeoutMs ?? DEFAULT_DETECT_TIMEOUT_MS;
    this.connectTimeoutMs = options.connectTimeoutMs ?? DEFAULT_DETECTOR_CONNECT_TIMEOUT_MS;
    if (!(Number.isSafeInteger(this.maxPending) && this.maxPending > 0))
      throw new RangeError(`detector client queue bound must be a positive integer, got ${this.maxPending}`);
    this.tasks = new TaskScope({
      name: "deadlock detector client",
      onError: (error, task) => options.logger.error({ err: error, task }, "deadlock detector task failed"),
    });
  }

  detect(edge: WaitForEdge): Promise<DetectOutcome> {
    const refusal = this.refusal() ?? (this.pending.size >= this.maxPending ? this.fullReason() : undefined);
    if (refusal !== undefined) return Promise.resolve(unavailable(refusal));
    if (this.link.kind === "local") return Promise.resolve(this.detectLocally(edge));
    return new Promise((resolve) => {
      const requestId = this.nextRequestId++;
      const timer = this.options.timers.setTimeout(
        () => this.onDetectTimeout(requestId),
        this.detectTimeoutMs,
      );
      this.pending.set(requestId, { resolve, timer, sent: false });
      this.enqueue(deadlock.DeadlockRequestType.DETECT, edge, requestId);
    });
  }

  cleanUpWaitFor(edge: WaitForEdgeId): void {
    this.send(deadlock.DeadlockRequestType.CLEAN_UP_WAIT_FOR, edge);
  }

  /** The transaction ended: the detector forgets every edge it waits on. */
  cleanUp(txn: bigint): void {
    this.send(deadlock.DeadlockRequestType.CLEAN_UP, { txn, waitForTxn: 0n, keyHash: 0n });
  }

  /** Ends every pending detect as unavailable, the stream and the connection attempt. Idempotent. */
  async close(): Promise<void> {
    const link = this.link;
    if (link.kind !== "closed") {
      if (link.kind === "backoff") link.timer.cancel();
      if (link.kind === "remote") link.stream.close();
      this.link = { kind: "closed" };
      this.failPending("the deadlock detector client is closed");
    }
    await this.tasks.close();
  }

  onResponse(stream: DetectStream, response: deadlock.DeadlockResponse): void {
    if (!this.isRemote(stream)) return;
    const detect = this.pending.get(response.requestId);
    // An answer to a detect that already timed out: its waiter refreshes the edge later anyway.
    if (detect === undefined) return;
    this.pending.delete(response.requestId);
    detect.timer.cancel();
    detect.resolve(this.outcomeOf(answerOf(response), `store ${stream.location.storeId}`));
  }

  onBroken(stream: DetectStream, cause: unknown): void {
    if (this.isRemote(stream)) this.fail(`the detect stream broke: ${asError(cause).message}`);
  }

  /** Why a request cannot be taken now, if it cannot. */
  private refusal(): string | undefined {
    const link = this.link;
    if (link.kind === "closed") return "the deadlock detector client is closed";
    if (link.kind === "backoff")
      return `the deadlock detector is unavailable (${link.reason}); retrying soon`;
    if (this.queue.length >= this.maxPending) return this.fullReason();
    return undefined;
  }

  private fullReason(): string {
    return `${this.maxPending} deadlock detector requests already pending`;
  }

  private send(type: deadlock.DeadlockRequestType, edge: WaitForEdgeId): void {
    if (this.refusal() !== undefined) return;
    this.enqueue(type, edge, 0n);
  }

  private enqueue(
    type: deadlock.DeadlockRequestType,
    edge: WaitForEdgeId & { key?: Uint8Array },
    requestId: bigint,
  ): void {
    const entry = deadlock.WaitForEntry.fromPartial({ ...edge, key: edge.key ?? new Uint8Array() });
    this.queue.push({ request: { type, entry, requestId } });
    this.pump();
  }

  private pump(): void {
    const link = this.link;
    if (link.kind === "idle" && this.queue.length > 0) this.startConnecting();
    else if (link.kind === "local") this.flushLocally();
    else if (link.kind === "remote") this.flushRemote(link);
  }

  private flushLocally(): void {
    const detector = this.options.localDetector;
    while (this.link.kind === "local" && this.queue.length > 0) {
      const { request } = this.queue.shift()!;
      const entry = request.entry!;
      if (request.type === deadlock.DeadlockRequestType.CLEAN_UP_WAIT_FOR) detector.cleanUpWaitFor(entry);
      else if (request.type === deadlock.DeadlockRequestType.CLEAN_UP) detector.cleanUp(entry.txn);
      else this.answerLocally(request.requestId, entry);
    }
  }

  /** A detect queued while the detector was being looked up, answered once it turned out to be here. */
  private answerLocally(requestId: bigint, entry: deadlock.WaitForEntry): void {
    const detect = this.pending.get(requestId);
    if (detect === undefined) return;
    this.pending.delete(requestId);
    detect.timer.cancel();
    detect.resolve(this.detectLocally(entry));
  }

  private detectLocally(edge: WaitForEdge): DetectOutcome {
    return this.outcomeOf(this.options.localDetector.detect(edge), `this store (${this.options.storeId})`);
  }

  private flushRemote(link: RemoteLink): void {
    while (!link.waitingForDrain && this.queue.length > 0) {
      const { request } = this.queue.shift()!;
      if (request.type === deadlock.DeadlockRequestType.DETECT) {
        const detect = this.pending.get(request.requestId);
        if (detect === undefined) continue;
        detect.sent = true;
      }
      if (!link.stream.write(request)) {
        link.waitingForDrain = true;
        link.stream.onceDrained(() => {
          link.waitingForDrain = false;
          if (this.link === link) this.pump();
        });
      }
    }
  }

  /** Turns a detector's answer into the caller's outcome; NOT_LEADER is a failure of the link. */
  private outcomeOf(answer: DetectorAnswer, detectorName: string): DetectOutcome {
    switch (answer.kind) {
      case "not-leader": {
        const reason = `${detectorName} was named the deadlock detector but does not run it`;
        this.fail(reason);
        return unavailable(reason);
      }
      case "graph-full":
        this.reconnectBackoff.reset();
        return unavailable(`the deadlock detector on ${detectorName} holds as many wait-for edges as it may`);
      case "no-deadlock":
      case "deadlock":
        this.reconnectBackoff.reset();
        return answer;
    }
  }

  private onDetectTimeout(requestId: bigint): void {
    const detect = this.pending.get(requestId);
    if (detect === undefined) return;
    if (detect.sent) {
      this.fail(`no answer from the deadlock detector within ${this.detectTimeoutMs} ms`);
      return;
    }
    this.pending.delete(requestId);
    this.queue = this.queue.filter((queued) => queued.request.requestId !== requestId);
    detect.resolve(unavailable(`the deadlock detector was not reached within ${this.detectTimeoutMs} ms`));
  }

  private startConnecting(): void {
    this.link = { kind: "connecting" };
    // Refused only when the scope is closed, which happens only after the link is closed.
    if (!this.tasks.spawn("connect to the deadlock detector", (signal) => this.connect(signal)))
      this.link = { kind: "idle" };
  }

  /** Never rejects: a failure starts the backoff; closing the client ends the attempt. */
  private async connect(signal: AbortSignal): Promise<void> {
    try {
      const location = await this.lookUp(signal);
      if (!this.isConnecting()) return;
      if (location.storeId === this.options.storeId) {
        this.link = { kind: "local" };
        this.pump();
        return;
      }
      const stream = await DetectStream.connect({
        location,
        maxMessageBytes: this.options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES,
        timeoutMs: this.connectTimeoutMs,
        timers: this.options.timers,
        events: this,
        signal,
      });
      if (!this.isConnecting()) {
        stream.close();
        return;
      }
      this.link = { kind: "remote", stream, waitingForDrain: false };
      this.pump();
    } catch (error) {
      if (this.isConnecting()) this.fail(`cannot reach the deadlock detector: ${asError(error).message}`);
    }
  }

  /**
   * `resolveDetector`, bounded by the connect timeout (it may wait on an unreachable pd). One controller
   * carries both the timeout and the client's close, and lets go of the scope's signal afterwards.
   */
  private async lookUp(signal: AbortSignal): Promise<DetectorLocation> {
    const stop = new AbortController();
    const onClose = (): void => stop.abort(signal.reason);
    signal.addEventListener("abort", onClose, { once: true });
    const timer = this.options.timers.setTimeout(
      () => stop.abort(new Error(`no answer within ${this.connectTimeoutMs} ms`)),
      this.connectTimeoutMs,
    );
    try {
      if (signal.aborted) onClose();
      const location = await untilAborted(this.options.resolveDetector(), stop.signal);
      if (location === undefined) throw new Error("the first region has no known leader");
      return location;
    } finally {
      timer.cancel();
      signal.removeEventListener("abort", onClose);
    }
  }

  private fail(reason: string): void {
    const link = this.link;
    if (link.kind === "remote") link.stream.close();
    const retryInMs = this.reconnectBackoff.nextDelayMs();
    const timer = this.options.timers.setTimeout(() => {
      if (this.link.kind !== "backoff") return;
      this.link = { kind: "idle" };
      this.pump();
    }, retryInMs);
    this.link = { kind: "backoff", timer, reason };
    const failedDetects = this.failPending(reason);
    this.options.logger.warn(
      { reason, failedDetects, failuresInARow: this.reconnectBackoff.failures, retryInMs },
      "deadlock detector unavailable",
    );
  }

  /** Ends every pending detect as unavailable and forgets queued requests; returns how many detects. */
  private failPending(reason: string): number {
    this.queue = [];
    const failed = [...this.pending.values()];
    this.pending.clear();
    for (const detect of failed) {
      detect.timer.cancel();
      detect.resolve(unavailable(reason));
    }
    return failed.length;
  }

  private isConnecting(): boolean {
    return this.link.kind === "connecting";
  }

  private isRemote(stream: DetectStream): boolean {
    return this.link.kind === "remote" && this.link.stream === stream;
  }
}

function unavailable(reason: string): DetectOutcome {
  return { kind: "unavailable", reason };
}

function answerOf(response: deadlock.DeadlockResponse): DetectorAnswer {
  switch (response.result) {
    case deadlock.DetectResult.NO_DEADLOCK:
      return { kind: "no-deadlock" };
    case deadlock.DetectResult.NOT_LEADER:
      return { kind: "not-leader" };
    case deadlock.DetectResult.GRAPH_FULL:
      return { kind: "graph-full" };
    case deadlock.DetectResult.DEADLOCK:
      return {
        kind: "deadlock",
        deadlockKeyHash: response.deadlockKeyHash,
        deadlockKey: response.deadlockKey,
        waitChain: response.waitChain,
      };
  }
}
