/**
 * Conversion between the raft core's messages (numbers) and the wire's eraftpb messages (bigints). Every
 * bigint coming off the wire is checked to fit a safe integer: the core does arithmetic on them.
 */
import { eraftpb } from "#proto";
import {
  type ConfState,
  type Entry,
  EntryType,
  type Message,
  MessageType,
  NO_ENTRIES,
  type Snapshot,
} from "#raft";
import { toSafeIndex } from "./region-meta.ts";

const TO_WIRE: Readonly<Record<MessageType, eraftpb.MessageType>> = {
  [MessageType.Hup]: eraftpb.MessageType.HUP,
  [MessageType.Beat]: eraftpb.MessageType.BEAT,
  [MessageType.Propose]: eraftpb.MessageType.PROPOSE,
  [MessageType.Append]: eraftpb.MessageType.APPEND,
  [MessageType.AppendResponse]: eraftpb.MessageType.APPEND_RESPONSE,
  [MessageType.RequestVote]: eraftpb.MessageType.REQUEST_VOTE,
  [MessageType.RequestVoteResponse]: eraftpb.MessageType.REQUEST_VOTE_RESPONSE,
  [MessageType.RequestPreVote]: eraftpb.MessageType.REQUEST_PRE_VOTE,
  [MessageType.RequestPreVoteResponse]: eraftpb.MessageType.REQUEST_PRE_VOTE_RESPONSE,
  [MessageType.Snapshot]: eraftpb.MessageType.SNAPSHOT,
  [MessageType.Heartbeat]: eraftpb.MessageType.HEARTBEAT,
  [MessageType.HeartbeatResponse]: eraftpb.MessageType.HEARTBEAT_RESPONSE,
  [MessageType.Unreachable]: eraftpb.MessageType.UNREACHABLE,
  [MessageType.SnapStatus]: eraftpb.MessageType.SNAP_STATUS,
  [MessageType.CheckQuorum]: eraftpb.MessageType.CHECK_QUORUM,
  [MessageType.TransferLeader]: eraftpb.MessageType.TRANSFER_LEADER,
  [MessageType.TimeoutNow]: eraftpb.MessageType.TIMEOUT_NOW,
  [MessageType.ReadIndex]: eraftpb.MessageType.READ_INDEX,
  [MessageType.ReadIndexResponse]: eraftpb.MessageType.READ_INDEX_RESP,
};

const FROM_WIRE = new Map<eraftpb.MessageType, MessageType>(
  Object.entries(TO_WIRE).map(([core, wire]) => [wire, Number(core) as MessageType]),
);

/** A wire message the core cannot take (unknown type, out-of-range numbers). */
export class InvalidRaftMessageError extends Error {
  override readonly name = "InvalidRaftMessageError";
}

export function messageToWire(message: Message): eraftpb.Message {
  return {
    msgType: TO_WIRE[message.type],
    to: BigInt(message.to),
    from: BigInt(message.from),
    term: BigInt(message.term),
    logTerm: BigInt(message.logTerm),
    index: BigInt(message.index),
    entries: message.entries.map(entryToWire),
    commit: BigInt(message.commit),
    snapshot: message.snapshot === undefined ? undefined : snapshotToWire(message.snapshot),
    requestSnapshot: 0n,
    reject: message.reject,
    rejectHint: BigInt(message.rejectHint),
    context: message.context ?? new Uint8Array(0),
    priority: 0n,
  };
}

export function messageFromWire(wire: eraftpb.Message): Message {
  const type = FROM_WIRE.get(wire.msgType);
  if (type === undefined) throw new InvalidRaftMessageError(`unknown raft message type ${wire.msgType}`);
  try {
    return {
      type,
      from: toSafeIndex(wire.from, "from"),
      to: toSafeIndex(wire.to, "to"),
      term: toSafeIndex(wire.term, "term"),
      logTerm: toSafeIndex(wire.logTerm, "log term"),
      index: toSafeIndex(wire.index, "index"),
      entries: wire.entries.length === 0 ? NO_ENTRIES : wire.entries.map(entryFromWire),
      commit: toSafeIndex(wire.commit, "commit"),
      snapshot: wire.snapshot === undefined ? undefined : snapshotFromWire(wire.snapshot),
      reject: wire.reject,
      rejectHint: toSafeIndex(wire.rejectHint, "reject hint"),
      context: wire.context.length === 0 ? undefined : wire.context,
    };
  } catch (error) {
    if (error instanceof RangeError) throw new InvalidRaftMessageError(error.message);
    throw error;
  }
}

function entryToWire(entry: Entry): eraftpb.Entry {
  return {
    entryType: entry.type === EntryType.ConfChange ? eraftpb.EntryType.CONF_CHANGE : eraftpb.EntryType.NORMAL,
    term: BigInt(entry.term),
    index: BigInt(entry.index),
    data: entry.data,
    context: new Uint8Array(0),
  };
}

function entryFromWire(entry: eraftpb.Entry): Entry {
  return {
    term: toSafeIndex(entry.term, "entry term"),
    index: toSafeIndex(entry.index, "entry index"),
    type: entry.entryType === eraftpb.EntryType.CONF_CHANGE ? EntryType.ConfChange : EntryType.Normal,
    data: entry.data,
  };
}

export function snapshotToWire(snapshot: Snapshot): eraftpb.Snapshot {
  const { index, term, confState } = snapshot.metadata;
  return {
    data: snapshot.data,
    metadata: {
      index: BigInt(index),
      term: BigInt(term),
      confState: {
        voters: confState.voters.map((id) => BigInt(id)),
        learners: confState.learners.map((id) => BigInt(id)),
      },
    },
  };
}

export function snapshotFromWire(snapshot: eraftpb.Snapshot): Snapshot {
  const metadata = snapshot.metadata;
  if (metadata === undefined) throw new InvalidRaftMessageError("snapshot without metadata");
  const confState: ConfState = {
    voters: (metadata.confState?.voters ?? []).map((id) => toSafeIndex(id, "voter id")),
    learners: (metadata.confState?.learners ?? []).map((id) => toSafeIndex(id, "learner id")),
  };
  return {
    metadata: {
      index: toSafeIndex(metadata.index, "snapshot index"),
      term: toSafeIndex(metadata.term, "snapshot term"),
      confState,
    },
    data: snapshot.data,
  };
}
