/**
 * The data the raft core consumes and produces. Terms, indexes and node ids are plain numbers: the core does
 * hot-path arithmetic and Map lookups on them, and real values stay far below 2^53 (the store asserts this
 * where it converts from protobuf bigints).
 */

export type NodeId = number;

/** "No node": no leader known, no vote cast. */
export const NONE: NodeId = 0;

export enum EntryType {
  Normal = 0,
  ConfChange = 1,
}

export interface Entry {
  readonly term: number;
  readonly index: number;
  readonly type: EntryType;
  readonly data: Uint8Array;
}

export interface HardState {
  readonly term: number;
  readonly vote: NodeId;
  readonly commit: number;
}

export interface ConfState {
  readonly voters: readonly NodeId[];
  readonly learners: readonly NodeId[];
}

export interface SnapshotMetadata {
  readonly index: number;
  readonly term: number;
  readonly confState: ConfState;
}

export interface Snapshot {
  readonly metadata: SnapshotMetadata;
  readonly data: Uint8Array;
}

export enum MessageType {
  /** Local: start an election. */
  Hup,
  /** Local: the leader should broadcast heartbeats. */
  Beat,
  /** A proposal; forwarded from a follower to the leader with term 0. */
  Propose,
  Append,
  AppendResponse,
  RequestVote,
  RequestVoteResponse,
  RequestPreVote,
  RequestPreVoteResponse,
  Snapshot,
  /**
   * `commit` is min(follower's match, leader's commit) so a follower never commits entries it may not have;
   * `index` carries the leader's heartbeat round (a sequence number), echoed back in the response, which
   * confirms pending ReadIndex requests and extends the leader lease.
   */
  Heartbeat,
  /** `index` echoes the round of the heartbeat it answers. */
  HeartbeatResponse,
  /** Local: the transport could not reach `from`. */
  Unreachable,
  /** Local: the snapshot sent to `from` was installed (`reject` false) or failed (`reject` true). */
  SnapStatus,
  /** Local: the leader checks it heard from a quorum within the election timeout. */
  CheckQuorum,
  /** `from` is the transferee; forwarded by followers to the leader. */
  TransferLeader,
  /** Tells the transferee to campaign at once, bypassing pre-vote and the followers' leases. */
  TimeoutNow,
  /** `context` is the caller's request context; forwarded from followers to the leader with term 0. */
  ReadIndex,
  /** `index` is the read index; `context` echoes the request context. */
  ReadIndexResponse,
}

/**
 * Append: `index`/`logTerm` identify the entry preceding `entries`.
 * AppendResponse: `index` is the last index now matching the leader's log; on rejection `index` is the
 * rejected probe index, `rejectHint` the follower's guess of the last matching index and `logTerm` its term
 * at `rejectHint` (lets the leader skip a whole diverging term at once).
 * RequestVote / RequestPreVote: `index`/`logTerm` describe the candidate's last entry; `context` is
 * CAMPAIGN_TRANSFER_CONTEXT for a campaign started by MsgTimeoutNow.
 */
export interface Message {
  readonly type: MessageType;
  readonly from: NodeId;
  readonly to: NodeId;
  readonly term: number;
  readonly logTerm: number;
  readonly index: number;
  readonly entries: readonly Entry[];
  readonly commit: number;
  readonly snapshot?: Snapshot;
  readonly reject: boolean;
  readonly rejectHint: number;
  readonly context?: Uint8Array;
}

export enum ConfChangeType {
  /** Adds a voter, or promotes an existing learner to voter. */
  AddNode = 0,
  RemoveNode = 1,
  AddLearnerNode = 2,
}

export interface ConfChange {
  readonly type: ConfChangeType;
  readonly nodeId: NodeId;
  readonly context?: Uint8Array;
}

export enum Role {
  Follower,
  PreCandidate,
  Candidate,
  Leader,
}

export interface SoftState {
  readonly leaderId: NodeId;
  readonly role: Role;
}

/** A read index confirmed by the leader: serve the read once the local applied index reaches `index`. */
export interface ReadState {
  readonly index: number;
  readonly requestContext: Uint8Array;
}

/** Shared so messages without entries do not each allocate an empty array. */
export const NO_ENTRIES: readonly Entry[] = Object.freeze([]);

export const EMPTY_BYTES: Uint8Array = new Uint8Array(0);

/** Marks a vote request sent because of MsgTimeoutNow: voters grant it even while in a leader's lease. */
export const CAMPAIGN_TRANSFER_CONTEXT: Uint8Array = new TextEncoder().encode("CampaignTransfer");

/** Types that only make sense when a node sends them to itself; `RawNode.step` rejects them. */
export function isLocalMessage(type: MessageType): boolean {
  return (
    type === MessageType.Hup ||
    type === MessageType.Beat ||
    type === MessageType.Unreachable ||
    type === MessageType.SnapStatus ||
    type === MessageType.CheckQuorum
  );
}

export function isResponseMessage(type: MessageType): boolean {
  return (
    type === MessageType.AppendResponse ||
    type === MessageType.RequestVoteResponse ||
    type === MessageType.RequestPreVoteResponse ||
    type === MessageType.HeartbeatResponse
  );
}

export function isEmptyHardState(state: HardState): boolean {
  return state.term === 0 && state.vote === NONE && state.commit === 0;
}

/** Bytes an entry counts for in message and Ready size limits: the payload plus a fixed header estimate. */
export const ENTRY_OVERHEAD_BYTES = 16;

export function entrySizeBytes(entry: Entry): number {
  return entry.data.byteLength + ENTRY_OVERHEAD_BYTES;
}

export function payloadSizeBytes(entries: readonly Entry[]): number {
  let total = 0;
  for (let i = 0; i < entries.length; i++) total += entries[i]!.data.byteLength;
  return total;
}

/**
 * How many leading entries of `entries[start, end)` fit in `maxBytes`, never fewer than one (an oversized
 * entry must still make progress).
 */
export function countWithinSize(
  entries: readonly Entry[],
  start: number,
  end: number,
  maxBytes: number,
): number {
  if (end <= start) return 0;
  let total = entrySizeBytes(entries[start]!);
  let count = 1;
  while (start + count < end) {
    total += entrySizeBytes(entries[start + count]!);
    if (total > maxBytes) break;
    count++;
  }
  return count;
}
