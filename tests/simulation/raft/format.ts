/** One-line renderings of raft messages and Readys for traces and failure reports. */
import { type Entry, type Message, MessageType, type Ready, Role } from "#raft";

function entries(list: readonly Entry[]): string {
  if (list.length === 0) return "[]";
  const first = list[0]!;
  const last = list[list.length - 1]!;
  return list.length === 1
    ? `[${first.index}@t${first.term}]`
    : `[${first.index}@t${first.term}..${last.index}@t${last.term}]`;
}

export function formatMessage(message: Message): string {
  const parts = [`${MessageType[message.type]} ${message.from}->${message.to} t${message.term}`];
  if (message.index !== 0 || message.logTerm !== 0)
    parts.push(`index=${message.index} logTerm=${message.logTerm}`);
  if (message.entries.length > 0) parts.push(`entries=${entries(message.entries)}`);
  if (message.commit !== 0) parts.push(`commit=${message.commit}`);
  if (message.reject) parts.push(`reject hint=${message.rejectHint}`);
  if (message.snapshot !== undefined)
    parts.push(`snapshot=${message.snapshot.metadata.index}@t${message.snapshot.metadata.term}`);
  return parts.join(" ");
}

export function formatReady(ready: Ready): string {
  const parts = [`#${ready.number}`];
  if (ready.softState !== undefined)
    parts.push(`soft=${Role[ready.softState.role]}(leader ${ready.softState.leaderId})`);
  if (ready.hardState !== undefined) {
    const { term, vote, commit } = ready.hardState;
    parts.push(`hard=(term ${term} vote ${vote} commit ${commit})`);
  }
  if (ready.snapshot !== undefined)
    parts.push(`snapshot=${ready.snapshot.metadata.index}@t${ready.snapshot.metadata.term}`);
  if (ready.entries.length > 0) parts.push(`entries=${entries(ready.entries)}`);
  if (ready.committedEntries.length > 0) parts.push(`apply=${entries(ready.committedEntries)}`);
  if (ready.messages.length > 0) parts.push(`send=${ready.messages.length}`);
  if (ready.persistedMessages.length > 0) parts.push(`sendAfterSync=${ready.persistedMessages.length}`);
  if (ready.readStates.length > 0)
    parts.push(`reads=${ready.readStates.map((state) => state.index).join(",")}`);
  return parts.join(" ");
}

/** Formats whatever a trace entry carries: a Ready, a message or plain text. */
export function formatDetail(detail: unknown): string {
  if (typeof detail === "string") return detail;
  if (typeof detail !== "object" || detail === null) return String(detail);
  if ("committedEntries" in detail) return formatReady(detail as Ready);
  if ("rejectHint" in detail) return formatMessage(detail as Message);
  return JSON.stringify(detail);
}
