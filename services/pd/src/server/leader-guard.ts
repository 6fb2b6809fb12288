/**
 * Tracks whether this pd member may serve leader-only requests. Winning the election is not enough: the
 * new leader first loads the cluster state, the id block and the TSO window (`startup`), and only then
 * serves. Requests that arrive during start-up wait for it (bounded), so a client following a leader hint
 * is not bounced back and forth. Losing leadership stops everything at once (`teardown`).
 */

import type { Logger } from "#observability";
import type { TimerHandle, Timers } from "#runtime";
import type { Election, MemberInfo } from "../storage/index.ts";

export interface LeaderGuardOptions {
  readonly election: Election;
  /** Loads leader state; throws to retry later (while still leader). */
  readonly startup: () => Promise<void>;
  /** Stops serving synchronously; called on leadership loss and on close. */
  readonly teardown: () => void;
  readonly timers: Timers;
  readonly logger: Logger;
  /** Longest a request waits for start-up before being refused [5 s]. */
  readonly readyTimeoutMs?: number;
  /** Pause before a failed start-up is retried [1 s]. */
  readonly startupRetryMs?: number;
}

/** This member cannot serve a leader-only request; `leader` is the member that can, when known. */
export class NotLeaderServingError extends Error {
  override readonly name = "NotLeaderServingError";
  constructor(
    readonly leader: MemberInfo | undefined,
    reason: string,
  ) {
    super(
      leader === undefined ? `${reason}; the leader is unknown` : `${reason}; the leader is ${leader.name}`,
    );
  }
}

type Phase = "follower" | "starting" | "ready" | "closed";

const DEFAULT_READY_TIMEOUT_MS = 5_000;
const DEFAULT_STARTUP_RETRY_MS = 1_000;

export class LeaderGuard {
  private phase: Phase = "follower";
  private generation = 0;
  private ready: Promise<void> = Promise.resolve();
  private markReady: () => void = () => {};
  private retryTimer: TimerHandle | undefined;
  /**
   * The latest start-up attempt (it never rejects); a new one waits for it so two never load state at the
   * same time, and `close` waits for it.
   */
  private startupRun: Promise<void> = Promise.resolve();
  private unsubscribe: (() => void) | undefined;

  constructor(private readonly options: LeaderGuardOptions) {}

  get isReady(): boolean {
    return this.phase === "ready";
  }

  start(): void {
    this.unsubscribe = this.options.election.onLeadershipChange((event) => this.onChange(event.isLeader));
    if (this.options.election.isLeader) this.onChange(true);
  }

  /** Resolves when this member is the ready leader; throws NotLeaderServingError otherwise. */
  async ensureLeader(): Promise<void> {
    // The election may know the lease is gone before its listeners run; refuse from that moment on.
    if (this.phase === "ready" && this.options.election.isLeader) return;
    if (this.phase === "starting") await this.waitReady();
    if (!this.isReady || !this.options.election.isLeader) {
      throw new NotLeaderServingError(this.options.election.leader(), this.describeRefusal());
    }
  }

  /**
   * Stops serving at once, then waits for a start-up still running: it sees that it was overtaken and
   * tears down what it set up, which must happen before the backend it loads from is closed.
   */
  async close(): Promise<void> {
    this.unsubscribe?.();
    this.stopLeading("closed");
    await this.startupRun;
  }

  private onChange(isLeader: boolean): void {
    if (this.phase === "closed") return;
    if (!isLeader) {
      if (this.phase !== "follower") this.options.logger.info("lost pd leadership; stopped serving");
      this.stopLeading("follower");
      return;
    }
    if (this.phase === "follower") this.beginStartup();
  }

  private beginStartup(): void {
    this.generation++;
    this.phase = "starting";
    this.ready = new Promise<void>((resolve) => {
      this.markReady = resolve;
    });
    this.runStartup(this.generation);
  }

  private runStartup(generation: number): void {
    this.startupRun = this.startupRun.then(() => this.attemptStartup(generation));
  }

  private async attemptStartup(generation: number): Promise<void> {
    if (generation !== this.generation) return;
    try {
      await this.options.startup();
      if (generation !== this.generation) return this.undoStaleStartup();
      this.phase = "ready";
      this.options.logger.info("pd leader ready");
      this.markReady();
    } catch (error) {
      if (generation !== this.generation) return this.undoStaleStartup();
      this.options.logger.error({ err: error }, "pd leader start-up failed; retrying");
      this.retryTimer = this.options.timers.setTimeout(() => {
        if (generation === this.generation && this.options.election.isLeader) this.runStartup(generation);
      }, this.options.startupRetryMs ?? DEFAULT_STARTUP_RETRY_MS);
    }
  }

  /**
   * Leadership changed while a start-up ran, and the teardown for that change already happened, so whatever
   * the start-up set up afterwards (timers, loaded state) must go. A newer start-up redoes its own set-up.
   */
  private undoStaleStartup(): void {
    if (this.phase !== "starting") this.options.teardown();
  }

  private stopLeading(next: Phase): void {
    this.generation++;
    this.retryTimer?.cancel();
    this.retryTimer = undefined;
    const wasLeading = this.phase === "starting" || this.phase === "ready";
    this.phase = next;
    // Wake requests waiting on start-up: they re-check the phase and get refused.
    this.markReady();
    if (wasLeading) this.options.teardown();
  }

  private async waitReady(): Promise<void> {
    let timer: TimerHandle | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = this.options.timers.setTimeout(
        resolve,
        this.options.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS,
      );
    });
    await Promise.race([this.ready, timeout]);
    timer?.cancel();
  }

  private describeRefusal(): string {
    if (this.phase === "starting") return "this pd member is the leader but still starting up";
    if (this.phase === "closed") return "this pd member is shutting down";
    return "this pd member is not the leader";
  }
}
