/**
 * Lease-based leader election on etcd, in the manner of PD's: a member becomes leader by creating the leader
 * key (create-if-absent) bound to a lease of `leaseTtlSeconds`, keeps the lease alive, and leads only while
 * it can prove the lease is valid. Followers watch the key to learn the leader and campaign as soon as it
 * disappears; a periodic step bounds the reaction time even when the watch stream is reconnecting.
 *
 * The term is the key's create revision: metadata writes are transactions comparing it (see
 * etcd-meta-storage.ts), so a member that lost the key can never write, even before it notices.
 * Leadership is believed only until `sentAt + TTL` of the last acknowledged keepalive (measured on the
 * monotonic clock from before the request was sent, so never later than etcd's own expiry).
 *
 * Steps and lease revocations run in the election's task scope; `close` ends them within one request
 * timeout and leaves whatever etcd has not answered by then to the client's own close.
 */
import {
  EtcdLeaseInvalidError,
  type IKeyValue,
  type IRangeResponse,
  type Lease,
  type Namespace,
  type Watcher,
} from "etcd3";
import type { Logger } from "#observability";
import { type Clock, TaskScope, type TimerHandle, type Timers } from "#runtime";
import type { Election, LeadershipListener } from "./election.ts";
import { EtcdTimeoutError, StorageError } from "./errors.ts";
import { LEADER_KEY, MEMBERS_PREFIX, memberKey } from "./etcd-layout.ts";
import { LeadershipListeners } from "./leadership-listeners.ts";
import { decodeMember, encodeMember, type MemberInfo } from "./member.ts";

export interface EtcdElectionOptions {
  /** The client namespace at the backend's root path. */
  readonly root: Namespace;
  readonly self: MemberInfo;
  readonly leaseTtlSeconds: number;
  /** Bound on establishing the leader key watch at start. */
  readonly requestTimeoutMs: number;
  readonly clock: Clock;
  readonly timers: Timers;
  readonly logger: Logger;
}

interface Term {
  readonly lease: Lease;
  /** Create revision of the leader key we wrote: identifies this term in guarded writes. */
  readonly revision: string;
  validUntilMs: number;
  lastRenewalSentMs: number;
}

/** Renew four times per TTL and look around twice as often, so one lost keepalive never costs the lease. */
const RENEWALS_PER_TTL = 4;
const STEPS_PER_TTL = 8;
const MIN_STEP_INTERVAL_MS = 100;

export class EtcdElection implements Election {
  private term: Term | undefined;
  private knownLeader: MemberInfo | undefined;
  private memberLease: Lease | undefined;
  private watcher: Watcher | undefined;
  private stepTimer: TimerHandle | undefined;
  private expiryTimer: TimerHandle | undefined;
  private readonly scope: TaskScope;
  private stepping = false;
  private stepRequested = false;
  private campaignNotBeforeMs = 0;
  private failingSinceMs: number | undefined;
  /** etcd revision at which `knownLeader` was observed; older watch events and reads are ignored. */
  private leaderObservedRevision = 0n;
  private closed = false;
  private readonly listeners: LeadershipListeners;
  private readonly ttlMs: number;
  private readonly selfRecord: Buffer;

  private constructor(private readonly options: EtcdElectionOptions) {
    this.ttlMs = options.leaseTtlSeconds * 1000;
    this.selfRecord = encodeMember(options.self);
    this.listeners = new LeadershipListeners(options.logger);
    this.scope = new TaskScope({
      name: "pd etcd election",
      onError: (error, task) => options.logger.warn({ err: error, task }, "etcd election task failed"),
    });
  }

  /** Registers the member, learns the leader or wins the election, then keeps doing so in the background. */
  static async start(options: EtcdElectionOptions): Promise<EtcdElection> {
    const election = new EtcdElection(options);
    try {
      await election.step();
      // Starting right after the revision the first step observed leaves no gap for a missed change.
      election.watcher = await election.watchLeaderKey();
    } catch (error) {
      await election.close();
      throw error;
    }
    const intervalMs = Math.max(MIN_STEP_INTERVAL_MS, election.ttlMs / STEPS_PER_TTL);
    election.stepTimer = options.timers.setInterval(() => election.requestStep(), intervalMs);
    return election;
  }

  get isLeader(): boolean {
    return this.term !== undefined && this.options.clock.monotonicMs() < this.term.validUntilMs;
  }

  leader(): MemberInfo | undefined {
    return this.knownLeader;
  }

  /**
   * What the leader key must still hold for this member's writes to be valid: the create revision of the
   * term and our own record. Undefined unless this member provably leads.
   */
  leadershipGuard(): { readonly revision: string; readonly record: Buffer } | undefined {
    const term = this.term;
    return term && this.isLeader ? { revision: term.revision, record: this.selfRecord } : undefined;
  }

  async members(): Promise<MemberInfo[]> {
    let response: IRangeResponse;
    try {
      response = await this.options.root.getAll().prefix(MEMBERS_PREFIX).sort("Key", "Ascend").exec();
    } catch (error) {
      throw StorageError.wrap("members", MEMBERS_PREFIX, error);
    }
    return response.kvs.flatMap((kv) => this.decodeOrSkip(kv.value) ?? []);
  }

  onLeadershipChange(listener: LeadershipListener): () => void {
    return this.listeners.add(listener);
  }

  /** Steps down and stays out of the next campaign for one TTL so another member can win it. */
  async resign(): Promise<void> {
    if (!this.term) return;
    this.campaignNotBeforeMs = this.options.clock.monotonicMs() + this.ttlMs;
    const lease = this.endTerm("resigned", "info");
    this.requestStep();
    await this.settleWithin(
      lease && this.revoke(lease),
      this.options.requestTimeoutMs,
      "leader lease revoke",
    );
  }

  /** A guarded write found the leader key changed: this member lost the election without noticing yet. */
  noteWriteRejected(leader: MemberInfo | undefined, revision: string): void {
    this.stepDown("a leader-guarded write was rejected by etcd");
    this.setKnownLeader(leader, revision);
  }

  decodeOrSkip(value: Buffer): MemberInfo | undefined {
    try {
      return decodeMember(value);
    } catch (error) {
      this.options.logger.warn({ err: error }, "ignoring malformed member record in etcd");
      return undefined;
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.stepTimer?.cancel();
    this.expiryTimer?.cancel();
    // With etcd unreachable each of these could wait for retries; close as a whole gets one request
    // timeout and leaves the rest to the client's own close, which cancels whatever is still in flight.
    const { clock, requestTimeoutMs } = this.options;
    const deadlineMs = clock.monotonicMs() + requestTimeoutMs;
    const remainingMs = () => Math.max(0, deadlineMs - clock.monotonicMs());
    await this.settleWithin(this.scope.close(), remainingMs(), "election steps and revocations");
    await this.settleWithin(this.watcher?.cancel(), remainingMs(), "leader key watch cancel");
    const lease = this.endTerm("closing", "info");
    await this.settleWithin(lease && this.revoke(lease), remainingMs(), "leader lease revoke");
    await this.settleWithin(
      this.memberLease?.revoke(this.callDeadline()),
      remainingMs(),
      "member lease revoke",
    );
    this.memberLease = undefined;
  }

  /** Waits for `promise` at most `timeoutMs`; a failure or timeout is only logged: closing goes on regardless. */
  private async settleWithin(
    promise: Promise<unknown> | undefined,
    timeoutMs: number,
    what: string,
  ): Promise<void> {
    if (!promise) return;
    try {
      await withTimeout(promise, timeoutMs, this.options.timers, what);
    } catch (error) {
      this.options.logger.debug({ err: error, what }, "etcd election: gave up waiting");
    }
  }

  /** gRPC deadlines are wall-clock instants. */
  private callDeadline(): { readonly deadline: number } {
    return { deadline: Date.now() + this.options.requestTimeoutMs };
  }

  /** Runs a step soon; one asked for while a step runs is folded into one more run after it. */
  private requestStep(): void {
    if (this.closed) return;
    if (this.stepping) {
      this.stepRequested = true;
      return;
    }
    this.stepping = true;
    const started = this.scope.spawn("election step", async () => {
      try {
        await this.stepRepeatedly();
      } finally {
        this.stepping = false;
      }
    });
    if (!started) this.stepping = false;
  }

  private async stepRepeatedly(): Promise<void> {
    do {
      this.stepRequested = false;
      try {
        await this.step();
        this.noteRecovered();
      } catch (error) {
        this.noteFailure(error);
      }
    } while (this.stepRequested && !this.closed);
  }

  private async step(): Promise<void> {
    if (!this.memberLease) await this.register();
    if (this.term) await this.renewIfDue(this.term);
    else await this.followOrCampaign();
  }

  private async register(): Promise<void> {
    const lease = this.options.root.lease(this.options.leaseTtlSeconds);
    lease.on("lost", (error) => {
      if (this.memberLease !== lease) return;
      this.memberLease = undefined;
      this.options.logger.warn({ err: error }, "member registration lease lost; registering again");
      this.requestStep();
    });
    try {
      await lease.put(memberKey(this.options.self.memberId)).value(this.selfRecord);
    } catch (error) {
      await this.revoke(lease);
      throw error;
    }
    this.memberLease = lease;
  }

  private async followOrCampaign(): Promise<void> {
    const response = await this.options.root.get(LEADER_KEY).exec();
    const current = response.kvs[0]?.value;
    if (current) {
      // Our own record without a term is a leftover of an earlier incarnation; it expires with its lease.
      const leader = current.equals(this.selfRecord) ? undefined : this.decodeOrSkip(current);
      this.setKnownLeader(leader, response.header.revision);
      return;
    }
    this.setKnownLeader(undefined, response.header.revision);
    if (this.closed || this.options.clock.monotonicMs() < this.campaignNotBeforeMs) return;
    await this.campaign();
  }

  private async campaign(): Promise<void> {
    const { root, clock, leaseTtlSeconds } = this.options;
    const lease = root.lease(leaseTtlSeconds, { autoKeepAlive: false });
    const sentMs = clock.monotonicMs();
    try {
      const leaseId = await lease.grant();
      const result = await root
        .if(LEADER_KEY, "Create", "==", 0)
        .then(root.put(LEADER_KEY).value(this.selfRecord).lease(leaseId))
        .else(root.get(LEADER_KEY))
        .commit();
      if (!result.succeeded) {
        this.revokeInBackground(lease);
        const winner = result.responses[0]?.response_range.kvs[0];
        this.setKnownLeader(winner ? this.decodeOrSkip(winner.value) : undefined, result.header.revision);
        return;
      }
      this.becomeLeader({
        lease,
        revision: result.header.revision,
        validUntilMs: sentMs + this.ttlMs,
        lastRenewalSentMs: sentMs,
      });
    } catch (error) {
      this.revokeInBackground(lease);
      throw error;
    }
  }

  private becomeLeader(term: Term): void {
    this.term = term;
    this.armExpiry(term);
    this.knownLeader = this.options.self;
    this.leaderObservedRevision = BigInt(term.revision);
    this.options.logger.info({ revision: term.revision }, "became pd leader");
    this.listeners.emit({ isLeader: true, leader: this.options.self });
  }

  private async renewIfDue(term: Term): Promise<void> {
    const { clock, timers } = this.options;
    const sentMs = clock.monotonicMs();
    const renewalIntervalMs = this.ttlMs / RENEWALS_PER_TTL;
    if (sentMs - term.lastRenewalSentMs < renewalIntervalMs) return;
    try {
      // The gRPC deadline ends a stuck keepalive stream; the timeout guards against one that ignores it.
      const deadline = { deadline: Date.now() + renewalIntervalMs };
      const response = await withTimeout(
        term.lease.keepaliveOnce(deadline),
        renewalIntervalMs,
        timers,
        "leader lease keepalive",
      );
      if (this.term !== term) return;
      term.lastRenewalSentMs = sentMs;
      term.validUntilMs = sentMs + Math.min(Number(response.TTL) * 1000, this.ttlMs);
      this.armExpiry(term);
    } catch (error) {
      if (error instanceof EtcdLeaseInvalidError) this.stepDown("leader lease no longer exists in etcd");
      // Anything else is retried on the next step; the expiry timer steps down if renewals keep failing.
      else throw error;
    }
  }

  private armExpiry(term: Term): void {
    this.expiryTimer?.cancel();
    const delayMs = Math.max(0, term.validUntilMs - this.options.clock.monotonicMs());
    this.expiryTimer = this.options.timers.setTimeout(() => {
      if (this.term !== term) return;
      // Timers may fire a little early; look again rather than lose the step-down.
      if (this.isLeader) this.armExpiry(term);
      else this.stepDown("leader lease expired before it could be renewed");
    }, delayMs);
  }

  /** Leadership was lost: end the term, give up its lease and look around again. */
  private stepDown(reason: string): void {
    const lease = this.endTerm(reason, "warn");
    if (lease === undefined) return;
    this.revokeInBackground(lease);
    this.requestStep();
  }

  /**
   * Ends the term here and returns its lease, which the caller revokes: revoking deletes the leader key
   * at once if it is still ours, so a successor need not wait for the TTL. `info` for a step-down we
   * chose (resign, close); `warn` when leadership was lost.
   */
  private endTerm(reason: string, level: "info" | "warn"): Lease | undefined {
    const term = this.term;
    if (!term) return undefined;
    this.term = undefined;
    this.expiryTimer?.cancel();
    this.knownLeader = undefined;
    this.options.logger[level]({ reason, revision: term.revision }, "stepped down as pd leader");
    this.listeners.emit({ isLeader: false });
    return term.lease;
  }

  private setKnownLeader(leader: MemberInfo | undefined, observedRevision: string): void {
    const revision = BigInt(observedRevision);
    if (revision < this.leaderObservedRevision) return;
    this.leaderObservedRevision = revision;
    const unchanged =
      leader === undefined || this.knownLeader === undefined
        ? leader === this.knownLeader
        : encodeMember(leader).equals(encodeMember(this.knownLeader));
    if (unchanged) return;
    this.knownLeader = leader;
    this.listeners.emit({ isLeader: this.isLeader, ...(leader && { leader }) });
  }

  private async watchLeaderKey(): Promise<Watcher> {
    const watcher = this.options.root
      .watch()
      .key(LEADER_KEY)
      .startRevision((this.leaderObservedRevision + 1n).toString())
      .watcher();
    // An EventEmitter "error" without a listener would crash the process.
    watcher.on("error", (error) => this.options.logger.warn({ err: error }, "leader key watch failed"));
    watcher.on("put", (kv) => this.onLeaderKeyPut(kv));
    watcher.on("delete", (kv) => this.onLeaderKeyDeleted(kv));
    try {
      await waitUntilConnected(watcher, this.options.requestTimeoutMs, this.options.timers);
    } catch (error) {
      await this.settleWithin(watcher.cancel(), this.options.requestTimeoutMs, "leader key watch cancel");
      throw error;
    }
    return watcher;
  }

  /**
   * Watch events can arrive after a read or a campaign already showed a newer state (the delete of the
   * previous leader's key after we won): events at or below the revision we know are stale.
   */
  private isStale(kv: IKeyValue): boolean {
    return BigInt(kv.mod_revision) <= this.leaderObservedRevision;
  }

  private onLeaderKeyPut(kv: IKeyValue): void {
    if (this.isStale(kv)) return;
    if (this.term) {
      const ours = kv.create_revision === this.term.revision && kv.value.equals(this.selfRecord);
      if (ours) return;
      this.stepDown("leader key taken over by another member");
    }
    // Our own record while we hold no term is our campaign's write arriving before its response.
    if (kv.value.equals(this.selfRecord)) return;
    this.setKnownLeader(this.decodeOrSkip(kv.value), kv.mod_revision);
  }

  private onLeaderKeyDeleted(kv: IKeyValue): void {
    if (this.isStale(kv)) return;
    if (this.term) this.stepDown("leader key deleted");
    this.setKnownLeader(undefined, kv.mod_revision);
    this.requestStep();
  }

  private revokeInBackground(lease: Lease): void {
    this.scope.spawn("lease revoke", () => this.revoke(lease));
  }

  /** Never rejects: a lease that cannot be revoked expires after its TTL anyway. */
  private async revoke(lease: Lease): Promise<void> {
    try {
      await lease.revoke(this.callDeadline());
    } catch (error) {
      this.options.logger.debug({ err: error }, "lease revoke failed; it will expire");
    }
  }

  private noteFailure(error: unknown): void {
    if (this.failingSinceMs === undefined) {
      this.failingSinceMs = this.options.clock.monotonicMs();
      this.options.logger.warn({ err: error }, "etcd election step failed; retrying");
    } else {
      this.options.logger.debug({ err: error }, "etcd election step failed again");
    }
  }

  private noteRecovered(): void {
    if (this.failingSinceMs === undefined) return;
    const failedForMs = Math.round(this.options.clock.monotonicMs() - this.failingSinceMs);
    this.failingSinceMs = undefined;
    this.options.logger.info({ failedForMs }, "etcd election steps succeed again");
  }
}

function withTimeout<T>(promise: Promise<T>, timeoutMs: number, timers: Timers, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = timers.setTimeout(() => reject(new EtcdTimeoutError(what, timeoutMs)), timeoutMs);
    promise.then(
      (value) => {
        timer.cancel();
        resolve(value);
      },
      (error: unknown) => {
        timer.cancel();
        reject(error);
      },
    );
  });
}

function waitUntilConnected(watcher: Watcher, timeoutMs: number, timers: Timers): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const settle = (error?: unknown): void => {
      timer.cancel();
      watcher.off("connected", onConnected);
      watcher.off("error", onError);
      if (error === undefined) resolve();
      else reject(error);
    };
    const onConnected = (): void => settle();
    const onError = (error: unknown): void => settle(error);
    const timer = timers.setTimeout(
      () => settle(new EtcdTimeoutError("leader key watch connect", timeoutMs)),
      timeoutMs,
    );
    watcher.once("connected", onConnected);
    watcher.once("error", onError);
  });
}
