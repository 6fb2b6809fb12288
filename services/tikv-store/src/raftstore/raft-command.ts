/**
 * What the store proposes and how committed entries are read back. A normal entry's data is an encoded
 * RaftCmdRequest; a conf change entry's data is the raft core's ConfChange whose context is the encoded
 * RaftCmdRequest (so the applier sees the proposer's epoch and the full metapb.Peer); an empty normal
 * entry is a new leader's no-op.
 */
import { eraftpb, type metapb, raft_cmdpb } from "#proto";
import { type ConfChange, ConfChangeType, decodeConfChange, type Entry, EntryType } from "#raft";
import { asError } from "#runtime";
import type { TxnColumnFamily } from "../mvcc/mvcc-storage.ts";
import type { Modify } from "../mvcc/mvcc-txn.ts";

/** A raw write, in user keys. */
export type RawMutation =
  | { readonly type: "put"; readonly key: Uint8Array; readonly value: Uint8Array }
  | { readonly type: "delete"; readonly key: Uint8Array }
  /** [startKey, endKey); an empty endKey means the end of the key space. */
  | { readonly type: "delete-range"; readonly startKey: Uint8Array; readonly endKey: Uint8Array };

export interface CasRequest {
  readonly key: Uint8Array;
  readonly value: Uint8Array;
  /** The value the key must hold for the swap to happen; undefined means the key must be absent. */
  readonly previousValue: Uint8Array | undefined;
}

export interface CasResult {
  readonly succeeded: boolean;
  /** The value found before the operation (whether or not it succeeded); undefined when absent. */
  readonly previousValue: Uint8Array | undefined;
}

export type PeerChangeType = "add-learner" | "promote" | "remove";

export interface PeerChange {
  readonly type: PeerChangeType;
  readonly peer: metapb.Peer;
}

/** A committed entry, decoded once for both the CAS pre-read and the apply. */
export type DecodedEntry =
  | { readonly kind: "empty"; readonly entry: Entry }
  | { readonly kind: "command"; readonly entry: Entry; readonly command: raft_cmdpb.RaftCmdRequest }
  | {
      readonly kind: "conf-change";
      readonly entry: Entry;
      readonly change: ConfChange;
      readonly command: raft_cmdpb.RaftCmdRequest;
    };

/** A committed entry that does not decode: the log is corrupt or written by something else. */
export class CorruptEntryError extends Error {
  override readonly name = "CorruptEntryError";
  constructor(
    readonly regionId: bigint,
    readonly index: number,
    detail: string,
    options?: ErrorOptions,
  ) {
    super(`region ${regionId}: entry ${index} does not decode: ${detail}`, options);
  }
}

/**
 * A committed command the applier refuses because it is malformed (an admin command in the wrong kind of
 * entry, an invalid split, a log compaction past its own entry). Every replica refuses it the same way, so
 * the region stays consistent; the proposer's caller gets this error as the command's outcome.
 */
export class InvalidCommandError extends Error {
  override readonly name = "InvalidCommandError";
  constructor(
    readonly regionId: bigint,
    readonly index: number,
    readonly reason: string,
  ) {
    super(`region ${regionId}: entry ${index} is an invalid command: ${reason}`);
  }
}

export function commandHeader(options: {
  readonly region: metapb.Region;
  readonly peer: metapb.Peer;
  readonly term: number;
  readonly proposalId: bigint;
}): raft_cmdpb.RaftRequestHeader {
  return {
    regionId: options.region.id,
    peer: options.peer,
    regionEpoch: options.region.regionEpoch,
    term: BigInt(options.term),
    proposalId: options.proposalId,
  };
}

export function writeRequests(mutations: readonly RawMutation[]): raft_cmdpb.Request[] {
  return mutations.map((mutation): raft_cmdpb.Request => {
    switch (mutation.type) {
      case "put":
        return { cmd: { $case: "put", value: { key: mutation.key, value: mutation.value } } };
      case "delete":
        return { cmd: { $case: "delete", value: { key: mutation.key } } };
      case "delete-range":
        return {
          cmd: { $case: "deleteRange", value: { startKey: mutation.startKey, endKey: mutation.endKey } },
        };
      default:
        return mutation satisfies never;
    }
  });
}

const TXN_CF_ON_WIRE: { readonly [Cf in TxnColumnFamily]: raft_cmdpb.TxnColumnFamily } = {
  default: raft_cmdpb.TxnColumnFamily.DEFAULT,
  lock: raft_cmdpb.TxnColumnFamily.LOCK,
  write: raft_cmdpb.TxnColumnFamily.WRITE,
};

export function txnWriteRequests(modifies: readonly Modify[]): raft_cmdpb.Request[] {
  return modifies.map((modify): raft_cmdpb.Request => {
    const cf = TXN_CF_ON_WIRE[modify.cf];
    return modify.type === "put"
      ? { cmd: { $case: "txnPut", value: { cf, key: modify.key, value: modify.value } } }
      : { cmd: { $case: "txnDelete", value: { cf, key: modify.key } } };
  });
}

/** A range delete of transactional data (DeleteRange for a dropped table), replicated like any write. */
export function txnDeleteRangeRequest(startKey: Uint8Array, endKey: Uint8Array): raft_cmdpb.Request[] {
  return [{ cmd: { $case: "txnDeleteRange", value: { startKey, endKey } } }];
}

export function casRequests(request: CasRequest): raft_cmdpb.Request[] {
  return [
    {
      cmd: {
        $case: "compareAndSwap",
        value: {
          key: request.key,
          value: request.value,
          previousValue: request.previousValue ?? new Uint8Array(0),
          previousNotExist: request.previousValue === undefined,
        },
      },
    },
  ];
}

export function changePeerConfChange(change: PeerChange, context: Uint8Array): ConfChange {
  return { type: CONF_CHANGE_TYPE[change.type], nodeId: Number(change.peer.id), context };
}

export function changePeerRequest(change: PeerChange): raft_cmdpb.AdminRequest {
  return {
    cmd: {
      $case: "changePeer",
      value: { changeType: confChangeTypeToWire(CONF_CHANGE_TYPE[change.type]), peer: change.peer },
    },
  };
}

const CONF_CHANGE_TYPE: Readonly<Record<PeerChangeType, ConfChangeType>> = {
  "add-learner": ConfChangeType.AddLearnerNode,
  promote: ConfChangeType.AddNode,
  remove: ConfChangeType.RemoveNode,
};

function confChangeTypeToWire(type: ConfChangeType): eraftpb.ConfChangeType {
  switch (type) {
    case ConfChangeType.AddNode:
      return eraftpb.ConfChangeType.ADD_NODE;
    case ConfChangeType.RemoveNode:
      return eraftpb.ConfChangeType.REMOVE_NODE;
    case ConfChangeType.AddLearnerNode:
      return eraftpb.ConfChangeType.ADD_LEARNER_NODE;
    default:
      return type satisfies never;
  }
}

export function encodeCommand(command: raft_cmdpb.RaftCmdRequest): Uint8Array {
  return raft_cmdpb.RaftCmdRequest.encode(command).finish();
}

export function decodeEntry(regionId: bigint, entry: Entry): DecodedEntry {
  try {
    if (entry.type === EntryType.ConfChange) {
      const change = decodeConfChange(entry.data);
      if (change.context === undefined) {
        throw new CorruptEntryError(regionId, entry.index, "conf change without a command");
      }
      return {
        kind: "conf-change",
        entry,
        change,
        command: raft_cmdpb.RaftCmdRequest.decode(change.context),
      };
    }
    if (entry.data.byteLength === 0) return { kind: "empty", entry };
    return { kind: "command", entry, command: raft_cmdpb.RaftCmdRequest.decode(entry.data) };
  } catch (error) {
    if (error instanceof CorruptEntryError) throw error;
    throw new CorruptEntryError(regionId, entry.index, asError(error).message, { cause: error });
  }
}
