/**
 * Knows which pd member leads and which cluster this client belongs to. Asks GetMembers of each known member
 * in turn until one names a leader; the first answer fixes the cluster id that every later request carries.
 * Leader hints from NOT_LEADER errors switch the leader at once; a failed leader is forgotten so the next
 * request rediscovers; a timer refreshes the member list so members added later become reachable too.
 */
import type { Logger } from "#observability";
import { pdpb } from "#proto";
import { type Clock, InvariantError, type TaskScope, type TimerHandle, type Timers } from "#runtime";
import { toGrpcAddress } from "./endpoint-address.ts";
import type { PdChannels } from "./grpc-channels.ts";
import {
  PdClientClosedError,
  PdClusterMismatchError,
  PdNoLeaderError,
  PdServerError,
  PdUnavailableError,
} from "./pd-errors.ts";
import { callUnary } from "./unary-call.ts";

export interface MemberDiscoveryOptions {
  /** Normalised host:port addresses to start from. */
  readonly seedAddresses: readonly string[];
  readonly channels: PdChannels;
  readonly clock: Clock;
  readonly timers: Timers;
  /** Bound on one GetMembers attempt, so one hung member cannot use up a whole discovery deadline. */
  readonly memberTimeoutMs: number;
  /** When set, a member of any other cluster is refused instead of adopted. */
  readonly expectedClusterId?: bigint;
  readonly senderId: bigint;
  /** Aborted when the client closes, which cancels GetMembers calls in flight. */
  readonly closeSignal: AbortSignal;
  /** Owns the periodic refreshes, so the client's close waits for one in flight. */
  readonly tasks: TaskScope;
  readonly logger?: Logger;
}

type LeaderListener = (leaderAddress: string) => void;

export class MemberDiscovery {
  private leaderAddress: string | undefined;
  private knownClusterId: bigint;
  private memberAddresses: readonly string[] = [];
  private inProgress: Promise<string> | undefined;
  private refreshTimer: TimerHandle | undefined;
  private closed = false;
  private readonly listeners = new Set<LeaderListener>();

  constructor(private readonly options: MemberDiscoveryOptions) {
    this.knownClusterId = options.expectedClusterId ?? 0n;
  }

  /** 0 until the first member answers. */
  get clusterId(): bigint {
    return this.knownClusterId;
  }

  get leader(): string | undefined {
    return this.leaderAddress;
  }

  /** Called with the new leader's address whenever it changes (hint, rediscovery, refresh). */
  onLeaderChange(listener: LeaderListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The leader's address, asking the members first when it is not known. */
  leaderOrDiscover(deadlineAtMs: number): Promise<string> {
    return this.leaderAddress !== undefined
      ? Promise.resolve(this.leaderAddress)
      : this.discover(deadlineAtMs);
  }

  /** Concurrent callers share one discovery; it ends by `deadlineAtMs` of the caller that started it. */
  discover(deadlineAtMs: number): Promise<string> {
    if (this.closed) return Promise.reject(new PdClientClosedError("find the pd leader"));
    if (this.inProgress === undefined) {
      this.inProgress = this.askMembers(deadlineAtMs).finally(() => {
        this.inProgress = undefined;
      });
    }
    return this.inProgress;
  }

  /** Switches to the leader a NOT_LEADER error named; false when the hint is unusable or names `fromAddress`. */
  followLeaderHint(leader: pdpb.Member | undefined, fromAddress: string): boolean {
    const address = firstClientAddress(leader);
    if (address === undefined || address === fromAddress) return false;
    this.setLeader(address);
    return true;
  }

  /** The leader at `address` failed; forget it unless another leader was learned meanwhile. */
  leaderFailed(address: string): void {
    if (this.leaderAddress === address) this.leaderAddress = undefined;
  }

  startRefreshing(intervalMs: number): void {
    this.refreshTimer?.cancel();
    this.refreshTimer = this.options.timers.setInterval(() => {
      this.options.tasks.spawn("refresh the pd members", async () => {
        try {
          await this.discover(this.options.clock.monotonicMs() + intervalMs);
        } catch (error) {
          // pd being unreachable for a while is expected; the next round tries again.
          if (!(error instanceof PdUnavailableError || error instanceof PdClientClosedError)) throw error;
          this.options.logger?.warn({ err: error }, "pd member refresh failed");
        }
      });
    }, intervalMs);
  }

  close(): void {
    this.closed = true;
    this.refreshTimer?.cancel();
    this.listeners.clear();
  }

  private candidates(): string[] {
    const ordered = [
      ...(this.leaderAddress === undefined ? [] : [this.leaderAddress]),
      ...this.memberAddresses,
      ...this.options.seedAddresses,
    ];
    return [...new Set(ordered)];
  }

  private async askMembers(deadlineAtMs: number): Promise<string> {
    const tried: string[] = [];
    let lastCause: unknown;
    for (const address of this.candidates()) {
      const remainingMs = deadlineAtMs - this.options.clock.monotonicMs();
      if (remainingMs <= 0 || this.closed) break;
      tried.push(address);
      try {
        const leader = this.accept(address, await this.getMembers(address, remainingMs));
        if (leader !== undefined) return leader;
        lastCause = new PdNoLeaderError(address);
      } catch (error) {
        if (error instanceof InvariantError) throw error;
        lastCause = error;
      }
    }
    if (this.closed) throw new PdClientClosedError("find the pd leader");
    if (lastCause instanceof PdClusterMismatchError) throw lastCause;
    throw new PdUnavailableError({ operation: "finding the pd leader", endpoints: tried, lastCause });
  }

  private getMembers(address: string, remainingMs: number): Promise<pdpb.GetMembersResponse> {
    const header = { clusterId: this.knownClusterId, senderId: this.options.senderId };
    return callUnary({
      address,
      timeoutMs: Math.min(remainingMs, this.options.memberTimeoutMs),
      timers: this.options.timers,
      signal: this.options.closeSignal,
      invoke: (callback) => this.options.channels.get(address).getMembers({ header }, callback),
    });
  }

  /** Records an answer; returns the leader's address when the answer names one. */
  private accept(address: string, response: pdpb.GetMembersResponse): string | undefined {
    const error = response.header?.error;
    if (error !== undefined && error.type !== pdpb.ErrorType.OK) {
      throw new PdServerError({
        operation: "GetMembers",
        endpoint: address,
        errorType: error.type,
        detail: error.message,
      });
    }
    const clusterId = response.header?.clusterId ?? 0n;
    if (this.knownClusterId !== 0n && clusterId !== this.knownClusterId) {
      throw new PdClusterMismatchError({
        expectedClusterId: this.knownClusterId,
        actualClusterId: clusterId,
        endpoint: address,
      });
    }
    this.knownClusterId = clusterId;
    this.memberAddresses = response.members.flatMap((member) => {
      const memberAddress = firstClientAddress(member);
      return memberAddress === undefined ? [] : [memberAddress];
    });
    const leader = firstClientAddress(response.leader);
    if (leader !== undefined) this.setLeader(leader);
    return leader;
  }

  private setLeader(address: string): void {
    if (this.leaderAddress === address) return;
    this.options.logger?.info({ previous: this.leaderAddress, leader: address }, "pd leader changed");
    this.leaderAddress = address;
    for (const listener of this.listeners) listener(address);
  }
}

function firstClientAddress(member: pdpb.Member | undefined): string | undefined {
  const url = member?.clientUrls[0];
  if (url === undefined) return undefined;
  try {
    return toGrpcAddress(url);
  } catch {
    return undefined;
  }
}
