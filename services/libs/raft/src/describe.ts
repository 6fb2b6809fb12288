import { decodeConfChange } from "./conf-change.ts";
import type { Ready } from "./ready.ts";
import {
  type ConfChange,
  ConfChangeType,
  type ConfState,
  type Entry,
  EntryType,
  type HardState,
  type Message,
  MessageType,
  Role,
  type Snapshot,
} from "./types.ts";

/** Compact human-readable renderings for logs and scenario tests (names follow etcd raft's). */

const MESSAGE_TYPE_NAMES: Readonly<Record<MessageType, string>> = {
  [MessageType.Hup]: "MsgHup",
  [MessageType.Beat]: "MsgBeat",
  [MessageType.Propose]: "MsgProp",
  [MessageType.Append]: "MsgApp",
  [MessageType.AppendResponse]: "MsgAppResp",
  [MessageType.RequestVote]: "MsgVote",
  [MessageType.RequestVoteResponse]: "MsgVoteResp",
  [MessageType.RequestPreVote]: "MsgPreVote",
  [MessageType.RequestPreVoteResponse]: "MsgPreVoteResp",
  [MessageType.Snapshot]: "MsgSnap",
  [MessageType.Heartbeat]: "MsgHeartbeat",
  [MessageType.HeartbeatResponse]: "MsgHeartbeatResp",
  [MessageType.Unreachable]: "MsgUnreachable",
  [MessageType.SnapStatus]: "MsgSnapStatus",
  [MessageType.CheckQuorum]: "MsgCheckQuorum",
  [MessageType.TransferLeader]: "MsgTransferLeader",
  [MessageType.TimeoutNow]: "MsgTimeoutNow",
  [MessageType.ReadIndex]: "MsgReadIndex",
  [MessageType.ReadIndexResponse]: "MsgReadIndexResp",
};

const ROLE_NAMES: Readonly<Record<Role, string>> = {
  [Role.Follower]: "StateFollower",
  [Role.PreCandidate]: "StatePreCandidate",
  [Role.Candidate]: "StateCandidate",
  [Role.Leader]: "StateLeader",
};

export function messageTypeName(type: MessageType): string {
  return MESSAGE_TYPE_NAMES[type];
}

export function roleName(role: Role): string {
  return ROLE_NAMES[role];
}

/** Printable ASCII as a quoted string, anything else as hex. */
function describeBytes(bytes: Uint8Array): string {
  let text = "";
  for (const byte of bytes) {
    if (byte < 0x20 || byte > 0x7e) return `0x${Buffer.from(bytes).toString("hex")}`;
    text += String.fromCharCode(byte);
  }
  return JSON.stringify(text);
}

export function describeConfChange(change: ConfChange): string {
  const prefix =
    change.type === ConfChangeType.AddNode ? "v" : change.type === ConfChangeType.AddLearnerNode ? "l" : "r";
  return `${prefix}${change.nodeId}`;
}

export function describeEntry(entry: Entry): string {
  const head = `${entry.term}/${entry.index}`;
  if (entry.type === EntryType.ConfChange) {
    try {
      return `${head} EntryConfChange ${describeConfChange(decodeConfChange(entry.data))}`;
    } catch {
      return `${head} EntryConfChange ${describeBytes(entry.data)}`;
    }
  }
  return `${head} EntryNormal ${describeBytes(entry.data)}`;
}

function describeIds(ids: readonly number[]): string {
  return `[${ids.join(" ")}]`;
}

export function describeConfState(state: ConfState): string {
  return `Voters:${describeIds(state.voters)} Learners:${describeIds(state.learners)}`;
}

export function describeSnapshot(snapshot: Snapshot): string {
  const { index, term, confState } = snapshot.metadata;
  return `Index:${index} Term:${term} ConfState:${describeConfState(confState)}`;
}

export function describeHardState(state: HardState): string {
  return `HardState Term:${state.term} Vote:${state.vote} Commit:${state.commit}`;
}

export function describeMessage(message: Message): string {
  const type = message.type;
  let text = `${message.from}->${message.to} ${messageTypeName(type)} Term:${message.term}`;
  const isHeartbeat = type === MessageType.Heartbeat || type === MessageType.HeartbeatResponse;
  if (isHeartbeat) {
    if (message.commit !== 0) text += ` Commit:${message.commit}`;
    text += ` Round:${message.index}`;
  } else {
    text += ` Log:${message.logTerm}/${message.index}`;
    if (message.reject) {
      text += type === MessageType.AppendResponse ? ` Rejected (Hint: ${message.rejectHint})` : " Rejected";
    }
    if (message.commit !== 0) text += ` Commit:${message.commit}`;
  }
  if (message.entries.length > 0) text += ` Entries:[${message.entries.map(describeEntry).join(", ")}]`;
  if (message.snapshot !== undefined) text += ` Snapshot: ${describeSnapshot(message.snapshot)}`;
  if (message.context !== undefined && message.context.byteLength > 0) {
    text += ` Context:${describeBytes(message.context)}`;
  }
  return text;
}

/** A multi-line description of a Ready, one item per line. */
export function describeReady(ready: Ready): string {
  const lines = [`Ready MustSync=${ready.mustSync}:`];
  if (ready.softState !== undefined) {
    lines.push(`Lead:${ready.softState.leaderId} State:${roleName(ready.softState.role)}`);
  }
  if (ready.hardState !== undefined) lines.push(describeHardState(ready.hardState));
  if (ready.snapshot !== undefined) lines.push(`Snapshot ${describeSnapshot(ready.snapshot)}`);
  const sections: [string, readonly string[]][] = [
    ["Entries:", ready.entries.map(describeEntry)],
    ["CommittedEntries:", ready.committedEntries.map(describeEntry)],
    ["Messages:", ready.messages.map(describeMessage)],
    ["PersistedMessages:", ready.persistedMessages.map(describeMessage)],
    [
      "ReadStates:",
      ready.readStates.map((state) => `Index:${state.index} Context:${describeBytes(state.requestContext)}`),
    ],
  ];
  for (const [title, items] of sections) {
    if (items.length > 0) lines.push(title, ...items);
  }
  return lines.length === 1 ? "<empty Ready>" : lines.join("\n");
}
