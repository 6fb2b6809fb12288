import type { NodeId } from "./types.ts";

/**
 * A proposal (entry, conf change) was not appended: there is no leader to forward it to, leadership is
 * being transferred, a conf change is still pending, or the uncommitted log is over its size limit. The
 * caller may retry later, typically on the leader named by `leaderId` (0 when unknown).
 */
export class ProposalDroppedError extends Error {
  override readonly name = "ProposalDroppedError";
  constructor(
    readonly nodeId: NodeId,
    readonly reason: string,
    readonly leaderId: NodeId,
  ) {
    super(`raft node ${nodeId} dropped the proposal: ${reason} (leader ${leaderId})`);
  }
}

/** A conf change that can never be applied as asked (for example removing the last voter). */
export class InvalidConfChangeError extends Error {
  override readonly name = "InvalidConfChangeError";
  constructor(
    readonly nodeId: NodeId,
    readonly reason: string,
  ) {
    super(`raft node ${nodeId} refused the conf change: ${reason}`);
  }
}

/** A local-only message type (Hup, Beat, …) was passed to `RawNode.step`. */
export class StepLocalMessageError extends Error {
  override readonly name = "StepLocalMessageError";
  constructor(
    readonly nodeId: NodeId,
    readonly messageType: string,
  ) {
    super(`raft node ${nodeId}: ${messageType} is a local message and cannot be stepped from the network`);
  }
}

/** The configuration given to a raft node is invalid. */
export class RaftConfigError extends Error {
  override readonly name = "RaftConfigError";
  constructor(
    readonly nodeId: NodeId,
    readonly reason: string,
  ) {
    super(`raft node ${nodeId} config: ${reason}`);
  }
}

/** The caller broke the Ready protocol (for example asked for a Ready before advancing the previous one). */
export class RaftUsageError extends Error {
  override readonly name = "RaftUsageError";
  constructor(
    readonly nodeId: NodeId,
    reason: string,
  ) {
    super(`raft node ${nodeId}: ${reason}`);
  }
}

/**
 * An invariant of the algorithm or of stable storage does not hold (a committed entry conflicts, the commit
 * index is past the log, …). Continuing could lose acknowledged writes, so the node must stop.
 */
export class RaftInvariantError extends Error {
  override readonly name = "RaftInvariantError";
  constructor(
    readonly nodeId: NodeId,
    reason: string,
  ) {
    super(`raft node ${nodeId} invariant violated: ${reason}`);
  }
}
