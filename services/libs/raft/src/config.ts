import { RaftConfigError } from "./errors.ts";
import type { InjectedBug } from "./injected-bug.ts";
import type { NodeId } from "./types.ts";

/** Receives the core's notable events (role changes, elections, conf changes); never on the hot path. */
export type RaftLogger = (event: string, fields: Record<string, unknown>) => void;

export interface RaftRandom {
  /** Uniform integer in [0, bound). */
  intBelow(bound: number): number;
}

export interface RaftConfig {
  /** This node's id; never 0. */
  id: NodeId;
  /** Followers campaign after a randomized [electionTicks, 2 * electionTicks) ticks without a leader. */
  electionTicks: number;
  /** The leader heartbeats every heartbeatTicks; must be below electionTicks. */
  heartbeatTicks: number;
  /** Campaign with a pre-vote round first, so a node that cannot win never bumps the term. */
  preVote: boolean;
  /** The leader steps down when it has not heard from a quorum within an election timeout. */
  checkQuorum: boolean;
  /** Byte budget of the entries in one append message (at least one entry is always sent). */
  maxSizePerMessageBytes: number;
  /** Unacknowledged append messages per follower in replicate state. */
  maxInflightMessages: number;
  /** Proposals are dropped while the leader's uncommitted entry payloads exceed this (default unlimited). */
  maxUncommittedEntriesBytes?: number;
  /** Serve ReadIndex from the leader lease without a round trip while it is valid; needs checkQuorum. */
  leaseRead: boolean;
  /** The last index the application applied (on restart); entries up to it are not handed out again. */
  appliedIndex?: number;
  /** The only source of randomness (election timeout), injected so simulations replay exactly. */
  random: RaftRandom;
  logger?: RaftLogger;
  /** Lease length in ticks, below electionTicks by a margin for clock drift (default electionTicks - 2). */
  leaseTicks?: number;
  /** Byte budget of unacknowledged appends per follower (default 0: only the message count limits). */
  maxInflightBytes?: number;
  /** Byte budget of committed entries handed out in one Ready (default 64 MiB, at least one entry). */
  maxCommittedBytesPerReady?: number;
  /** Bound of the leader's queue of ReadIndex requests awaiting confirmation (default 4096). */
  maxPendingReadIndexRequests?: number;
  /** Safety bugs this node runs with, for the simulation's self-test only (see injected-bug.ts). */
  injectedBugs?: readonly InjectedBug[];
}

export interface ResolvedRaftConfig {
  readonly id: NodeId;
  readonly electionTicks: number;
  readonly heartbeatTicks: number;
  readonly preVote: boolean;
  readonly checkQuorum: boolean;
  readonly maxSizePerMessageBytes: number;
  readonly maxInflightMessages: number;
  readonly maxUncommittedEntriesBytes: number;
  readonly leaseRead: boolean;
  readonly appliedIndex: number;
  readonly random: RaftRandom;
  readonly logger: RaftLogger | undefined;
  readonly leaseTicks: number;
  readonly maxInflightBytes: number;
  readonly maxCommittedBytesPerReady: number;
  readonly maxPendingReadIndexRequests: number;
  readonly injectedBugs: ReadonlySet<InjectedBug>;
}

const MIB = 1024 * 1024;

/** The documented defaults (architecture brief: heartbeat 2 ticks, election 10 ticks). */
export function defaultRaftConfig(id: NodeId, random: RaftRandom): RaftConfig {
  return {
    id,
    electionTicks: 10,
    heartbeatTicks: 2,
    preVote: true,
    checkQuorum: true,
    maxSizePerMessageBytes: MIB,
    maxInflightMessages: 256,
    leaseRead: true,
    random,
  };
}

function requirePositiveInteger(id: NodeId, name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new RaftConfigError(id, `${name} must be a positive integer, got ${value}`);
  }
}

/** Validates a config and fills in defaults; lease reads are turned off without check-quorum. */
export function resolveRaftConfig(config: RaftConfig): ResolvedRaftConfig {
  const id = config.id;
  requirePositiveInteger(id, "id", id);
  requirePositiveInteger(id, "heartbeatTicks", config.heartbeatTicks);
  requirePositiveInteger(id, "electionTicks", config.electionTicks);
  if (config.electionTicks <= config.heartbeatTicks) {
    throw new RaftConfigError(id, "electionTicks must be greater than heartbeatTicks");
  }
  requirePositiveInteger(id, "maxInflightMessages", config.maxInflightMessages);
  if (!(config.maxSizePerMessageBytes >= 0)) {
    throw new RaftConfigError(
      id,
      `maxSizePerMessageBytes must be >= 0, got ${config.maxSizePerMessageBytes}`,
    );
  }
  const leaseTicks = config.leaseTicks ?? Math.max(1, config.electionTicks - 2);
  if (!Number.isSafeInteger(leaseTicks) || leaseTicks < 1 || leaseTicks >= config.electionTicks) {
    throw new RaftConfigError(id, `leaseTicks must be in [1, electionTicks), got ${leaseTicks}`);
  }
  const appliedIndex = config.appliedIndex ?? 0;
  if (!Number.isSafeInteger(appliedIndex) || appliedIndex < 0) {
    throw new RaftConfigError(id, `appliedIndex must be a non-negative integer, got ${appliedIndex}`);
  }
  const maxPendingReadIndexRequests = config.maxPendingReadIndexRequests ?? 4096;
  requirePositiveInteger(id, "maxPendingReadIndexRequests", maxPendingReadIndexRequests);
  return {
    id,
    electionTicks: config.electionTicks,
    heartbeatTicks: config.heartbeatTicks,
    preVote: config.preVote,
    checkQuorum: config.checkQuorum,
    maxSizePerMessageBytes: config.maxSizePerMessageBytes,
    maxInflightMessages: config.maxInflightMessages,
    maxUncommittedEntriesBytes: config.maxUncommittedEntriesBytes ?? Number.POSITIVE_INFINITY,
    // The lease rests on followers refusing votes while they hear from the leader, which check-quorum gives.
    leaseRead: config.leaseRead && config.checkQuorum,
    appliedIndex,
    random: config.random,
    logger: config.logger,
    leaseTicks,
    maxInflightBytes: config.maxInflightBytes ?? 0,
    maxCommittedBytesPerReady: config.maxCommittedBytesPerReady ?? 64 * MIB,
    maxPendingReadIndexRequests,
    injectedBugs: new Set(config.injectedBugs),
  };
}
