/**
 * Applies committed entries to the kv engine. Every region's entries of one store loop turn go into ONE
 * write batch (with each region's apply state and region meta), so the batch is the unit of atomicity: a
 * crash leaves the kv engine at some earlier turn's state, from which the synced raft log replays.
 *
 * Applying is deterministic: it depends only on the entries and on the region state as of the previous
 * entry, so every replica reaches the same result. Commands are checked again here (epoch, key range):
 * a command proposed before a split or a conf change committed after it must not apply.
 */
import { CodecError, decodeBytes } from "#codec";
import { metapb, raft_cmdpb, raft_serverpb } from "#proto";
import { type ConfChange, ConfChangeType } from "#raft";
import type { WriteBatch } from "#rocksdb";
import { InvariantError } from "#runtime";
import {
  clearRange,
  putApplyState,
  putRegionState,
  rawDelete,
  rawDeleteRange,
  rawPut,
} from "../engine/kv-engine.ts";
import { txnDelete, txnDeleteRange, txnPut } from "../engine/txn-data.ts";
import type { TxnColumnFamily } from "../mvcc/mvcc-storage.ts";
import { ApplyOverlay, overlayKey } from "./apply-overlay.ts";
import { writeInitialRegion } from "./initial-state.ts";
import type { CommandOutcome } from "./proposal.ts";
import { type DecodedEntry, InvalidCommandError } from "./raft-command.ts";
import {
  CHANGE_PEER_EPOCH_CHECK,
  DATA_COMMAND_EPOCH_CHECK,
  type EpochCheck,
  epochMismatch,
  SPLIT_EPOCH_CHECK,
} from "./region-epoch.ts";
import { EpochNotMatchError, KeyNotInRegionError } from "./region-errors.ts";
import { cloneRegion, epochOf, findPeer, isLearner, keyInRegion, rangeInRegion } from "./region-meta.ts";

/** The store facts the applier needs beyond the region itself. */
export interface ApplyStoreView {
  /** Regions the store holds next to `region` (siblings after a split), for EpochNotMatch. */
  currentRegions(region: metapb.Region): readonly metapb.Region[];
  /** A peer of this region was destroyed here: a split must not bring it back. */
  isTombstoned(regionId: bigint): boolean;
}

/** Shared by every region applied in one turn. */
export class ApplyTurn {
  readonly overlay = new ApplyOverlay();
  /** Log GC deletes raft log entries only once the kv state covering them is durable. */
  syncRequired = false;

  constructor(
    readonly batch: WriteBatch,
    /** Current values of every key a CAS of this turn reads, read before the batch was built. */
    readonly casReads: ReadonlyMap<string, Uint8Array | undefined>,
    readonly store: ApplyStoreView,
  ) {}
}

/** One region's apply state while its entries are applied; the peer adopts it once the batch is written. */
export interface ApplyState {
  region: metapb.Region;
  appliedIndex: number;
  appliedTerm: number;
  truncatedIndex: number;
  truncatedTerm: number;
  /** Key and value bytes written since the last split check. */
  writtenBytes: number;
  writtenKeys: number;
}

export type ApplyEffect =
  /** `change` went into the region meta: raft's configuration must follow. */
  | { readonly kind: "conf-change"; readonly change: ConfChange; readonly region: metapb.Region }
  /** Parent first; `created` are the new regions whose peers this store must create. */
  | {
      readonly kind: "split";
      readonly regions: readonly metapb.Region[];
      readonly created: readonly metapb.Region[];
    }
  | { readonly kind: "compact-log"; readonly compactIndex: number; readonly compactTerm: number };

export interface AppliedEntry {
  readonly index: number;
  readonly term: number;
  readonly proposalId: bigint | undefined;
  readonly outcome: CommandOutcome;
  readonly effect?: ApplyEffect;
}

/** Applying reached a state the store's own bookkeeping rules out; the store stops rather than diverge. */
export class ApplyInvariantError extends InvariantError {
  override readonly name = "ApplyInvariantError";
}

const EMPTY_RESPONSE: raft_cmdpb.RaftCmdResponse = { responses: [], adminResponse: undefined };
const OK_EMPTY: CommandOutcome = { ok: true, response: EMPTY_RESPONSE };

interface EntryResult {
  readonly outcome: CommandOutcome;
  readonly effect?: ApplyEffect;
}

/**
 * Applies `entries` (consecutive, starting right after the applied index) into the turn's batch and
 * advances `state`. `termOf` answers the term of an entry still in the log (for log GC).
 */
export function applyEntries(
  turn: ApplyTurn,
  state: ApplyState,
  entries: readonly DecodedEntry[],
  termOf: (index: number) => number,
): AppliedEntry[] {
  const applied: AppliedEntry[] = [];
  for (const decoded of entries) {
    const { index, term } = decoded.entry;
    if (index !== state.appliedIndex + 1) {
      throw new ApplyInvariantError(
        `region ${state.region.id}: applying entry ${index} after ${state.appliedIndex}`,
      );
    }
    const result = applyEntry(turn, state, decoded, termOf);
    state.appliedIndex = index;
    state.appliedTerm = term;
    applied.push({
      index,
      term,
      proposalId: decoded.kind === "empty" ? undefined : decoded.command.header?.proposalId,
      ...result,
    });
  }
  if (entries.length > 0) putApplyState(turn.batch, state.region.id, applyStateRecord(state));
  return applied;
}

export function applyStateRecord(state: ApplyState): raft_serverpb.RaftApplyState {
  return {
    appliedIndex: BigInt(state.appliedIndex),
    truncatedState: { index: BigInt(state.truncatedIndex), term: BigInt(state.truncatedTerm) },
    commitIndex: BigInt(state.appliedIndex),
    commitTerm: BigInt(state.appliedTerm),
  };
}

function applyEntry(
  turn: ApplyTurn,
  state: ApplyState,
  decoded: DecodedEntry,
  termOf: (index: number) => number,
): EntryResult {
  switch (decoded.kind) {
    case "empty":
      return { outcome: OK_EMPTY };
    case "conf-change":
      return applyConfChange(turn, state, decoded.entry.index, decoded.change, decoded.command);
    case "command": {
      const admin = decoded.command.adminRequest?.cmd;
      if (admin === undefined) return applyWrites(turn, state, decoded.entry.index, decoded.command);
      switch (admin.$case) {
        case "batchSplit":
          return applySplit(turn, state, decoded.entry.index, decoded.command, admin.value);
        case "compactLog":
          return applyCompactLog(turn, state, decoded.entry.index, admin.value, termOf);
        case "changePeer":
          return failed(
            new InvalidCommandError(
              state.region.id,
              decoded.entry.index,
              "a ChangePeer command must be proposed as a conf change entry",
            ),
          );
        default:
          return admin satisfies never;
      }
    }
    default:
      return decoded satisfies never;
  }
}

function failed(error: Error): EntryResult {
  return { outcome: { ok: false, error } };
}

function epochError(
  turn: ApplyTurn,
  state: ApplyState,
  command: raft_cmdpb.RaftCmdRequest,
  check: EpochCheck,
): EpochNotMatchError | undefined {
  const requestEpoch = command.header?.regionEpoch;
  if (!epochMismatch(requestEpoch, state.region, check)) return undefined;
  return new EpochNotMatchError(state.region.id, requestEpoch, turn.store.currentRegions(state.region));
}

// ---- data ------------------------------------------------------------------------------------------------

function applyWrites(
  turn: ApplyTurn,
  state: ApplyState,
  index: number,
  command: raft_cmdpb.RaftCmdRequest,
): EntryResult {
  const epoch = epochError(turn, state, command, DATA_COMMAND_EPOCH_CHECK);
  if (epoch) return failed(epoch);
  const outOfRange = keyOutsideRegion(state.region, command.requests);
  if (outOfRange === "malformed") {
    return failed(
      new InvalidCommandError(
        state.region.id,
        index,
        "a transactional write with a malformed key or column family",
      ),
    );
  }
  if (outOfRange) return failed(outOfRange);
  const responses: raft_cmdpb.Response[] = [];
  for (const request of command.requests) responses.push(applyRequest(turn, state, request));
  return { outcome: { ok: true, response: { responses, adminResponse: undefined } } };
}

function keyOutsideRegion(
  region: metapb.Region,
  requests: readonly raft_cmdpb.Request[],
): KeyNotInRegionError | "malformed" | undefined {
  for (const request of requests) {
    const cmd = request.cmd;
    if (cmd === undefined) continue;
    if (cmd.$case === "deleteRange" || cmd.$case === "txnDeleteRange") {
      const { startKey, endKey } = cmd.value;
      if (!rangeInRegion(startKey, endKey, region)) {
        return new KeyNotInRegionError(startKey, region.id, region.startKey, region.endKey);
      }
      continue;
    }
    let userKey = cmd.value.key;
    if (cmd.$case === "txnPut" || cmd.$case === "txnDelete") {
      if (TXN_CF[cmd.value.cf] === undefined) return "malformed";
      const decoded = userKeyOfMvccKey(cmd.value.key);
      if (decoded === undefined) return "malformed";
      userKey = decoded;
    }
    if (!keyInRegion(userKey, region)) {
      return new KeyNotInRegionError(userKey, region.id, region.startKey, region.endKey);
    }
  }
  return undefined;
}

/** The user key an MVCC key (memcomparable user key, maybe followed by ~ts) belongs to. */
function userKeyOfMvccKey(key: Uint8Array): Uint8Array | undefined {
  try {
    const decoded = decodeBytes(key, 0);
    const suffix = key.length - decoded.nextOffset;
    return suffix === 0 || suffix === 8 ? decoded.value : undefined;
  } catch (error) {
    if (error instanceof CodecError) return undefined;
    throw error;
  }
}

const NO_RESULT: raft_cmdpb.Response = { cmd: undefined };

/** Indexed by the wire value, which may be one this build does not know (then undefined). */
const TXN_CF: Readonly<Partial<Record<number, TxnColumnFamily>>> = {
  [raft_cmdpb.TxnColumnFamily.DEFAULT]: "default",
  [raft_cmdpb.TxnColumnFamily.LOCK]: "lock",
  [raft_cmdpb.TxnColumnFamily.WRITE]: "write",
};

function applyRequest(turn: ApplyTurn, state: ApplyState, request: raft_cmdpb.Request): raft_cmdpb.Response {
  const cmd = request.cmd;
  const { batch, overlay } = turn;
  switch (cmd?.$case) {
    case undefined:
      return NO_RESULT;
    case "put":
      rawPut(batch, cmd.value.key, cmd.value.value);
      overlay.put(cmd.value.key, cmd.value.value);
      countWrite(state, cmd.value.key.length + cmd.value.value.length);
      return NO_RESULT;
    case "delete":
      rawDelete(batch, cmd.value.key);
      overlay.delete(cmd.value.key);
      return NO_RESULT;
    case "deleteRange":
      rawDeleteRange(batch, cmd.value.startKey, cmd.value.endKey);
      overlay.deleteRange(cmd.value.startKey, cmd.value.endKey);
      return NO_RESULT;
    case "compareAndSwap":
      return { cmd: { $case: "compareAndSwap", value: applyCompareAndSwap(turn, state, cmd.value) } };
    case "txnPut":
      txnPut(batch, TXN_CF[cmd.value.cf]!, cmd.value.key, cmd.value.value);
      countWrite(state, cmd.value.key.length + cmd.value.value.length);
      return NO_RESULT;
    case "txnDelete":
      txnDelete(batch, TXN_CF[cmd.value.cf]!, cmd.value.key);
      return NO_RESULT;
    case "txnDeleteRange":
      txnDeleteRange(batch, cmd.value.startKey, cmd.value.endKey);
      return NO_RESULT;
    default:
      return cmd satisfies never;
  }
}

function applyCompareAndSwap(
  turn: ApplyTurn,
  state: ApplyState,
  request: raft_cmdpb.CompareAndSwapRequest,
): raft_cmdpb.CompareAndSwapResponse {
  const previous = currentValue(turn, request.key);
  const succeed = request.previousNotExist
    ? previous === undefined
    : previous !== undefined && Buffer.compare(previous, request.previousValue) === 0;
  if (succeed) {
    rawPut(turn.batch, request.key, request.value);
    turn.overlay.put(request.key, request.value);
    countWrite(state, request.key.length + request.value.length);
  }
  return {
    succeed,
    previousValue: previous ?? new Uint8Array(0),
    previousNotExist: previous === undefined,
  };
}

function currentValue(turn: ApplyTurn, key: Uint8Array): Uint8Array | undefined {
  const inBatch = turn.overlay.lookup(key);
  if (inBatch.known) return inBatch.value;
  const name = overlayKey(key);
  if (!turn.casReads.has(name)) {
    throw new ApplyInvariantError("a compare-and-swap key was not read before the apply batch");
  }
  return turn.casReads.get(name);
}

function countWrite(state: ApplyState, bytes: number): void {
  state.writtenBytes += bytes;
  state.writtenKeys += 1;
}

// ---- membership ------------------------------------------------------------------------------------------

function applyConfChange(
  turn: ApplyTurn,
  state: ApplyState,
  index: number,
  change: ConfChange,
  command: raft_cmdpb.RaftCmdRequest,
): EntryResult {
  const epoch = epochError(turn, state, command, CHANGE_PEER_EPOCH_CHECK);
  if (epoch) return failed(epoch);
  const request = command.adminRequest?.cmd;
  if (request?.$case !== "changePeer" || request.value.peer === undefined) {
    return failed(
      new InvalidCommandError(state.region.id, index, "a conf change entry without a ChangePeer command"),
    );
  }
  const target = request.value.peer;
  if (BigInt(change.nodeId) !== target.id) {
    throw new ApplyInvariantError(`conf change for node ${change.nodeId} carries peer ${target.id}`);
  }
  const peers = changedPeers(state.region, change.type, target);
  if (peers === undefined) {
    // Already in effect (a replay, or pd repeating an operator): nothing changes, raft's configuration
    // already matches the region meta, so raft is not told either.
    return { outcome: changePeerResponse(state.region) };
  }
  const epochNow = epochOf(state.region);
  state.region = {
    ...cloneRegion(state.region),
    peers,
    regionEpoch: { confVer: epochNow.confVer + 1n, version: epochNow.version },
  };
  putRegionState(turn.batch, state.region.id, {
    state: raft_serverpb.PeerState.NORMAL,
    region: state.region,
  });
  return {
    outcome: changePeerResponse(state.region),
    effect: { kind: "conf-change", change, region: state.region },
  };
}

/** The peer list after the change, or undefined when the change is already in effect. */
function changedPeers(
  region: metapb.Region,
  type: ConfChangeType,
  target: metapb.Peer,
): metapb.Peer[] | undefined {
  const existing = findPeer(region, target.id);
  const others = region.peers.filter((peer) => peer.id !== target.id);
  switch (type) {
    case ConfChangeType.AddLearnerNode:
      if (existing !== undefined) return undefined;
      return [...region.peers, { ...target, role: metapb.PeerRole.LEARNER }];
    case ConfChangeType.AddNode:
      if (existing !== undefined && !isLearner(existing)) return undefined;
      return [...others, { ...target, role: metapb.PeerRole.VOTER }];
    case ConfChangeType.RemoveNode:
      return existing === undefined ? undefined : others;
    default:
      return type satisfies never;
  }
}

function changePeerResponse(region: metapb.Region): CommandOutcome {
  return {
    ok: true,
    response: { responses: [], adminResponse: { cmd: { $case: "changePeer", value: { region } } } },
  };
}

// ---- split -----------------------------------------------------------------------------------------------

function applySplit(
  turn: ApplyTurn,
  state: ApplyState,
  index: number,
  command: raft_cmdpb.RaftCmdRequest,
  split: raft_cmdpb.BatchSplitRequest,
): EntryResult {
  const epoch = epochError(turn, state, command, SPLIT_EPOCH_CHECK);
  if (epoch) return failed(epoch);
  const problem = splitProblem(state.region, split);
  if (problem) return failed(new InvalidCommandError(state.region.id, index, `invalid split: ${problem}`));
  const regions = splitRegions(state.region, split);
  const parent = regions[0]!;
  state.region = parent;
  state.writtenBytes = 0;
  state.writtenKeys = 0;
  putRegionState(turn.batch, parent.id, { state: raft_serverpb.PeerState.NORMAL, region: parent });
  const created: metapb.Region[] = [];
  for (const region of regions.slice(1)) {
    if (turn.store.isTombstoned(region.id)) {
      // This store's peer of the new region was removed before the split reached it: the range's data
      // belongs to nobody here.
      clearRange(turn.batch, region);
      continue;
    }
    writeInitialRegion(turn.batch, region);
    created.push(region);
  }
  return {
    outcome: {
      ok: true,
      response: { responses: [], adminResponse: { cmd: { $case: "batchSplit", value: { regions } } } },
    },
    effect: { kind: "split", regions, created },
  };
}

function splitProblem(region: metapb.Region, split: raft_cmdpb.BatchSplitRequest): string | undefined {
  if (split.requests.length === 0) return "no split keys";
  let previous = region.startKey;
  const ids = new Set<bigint>([region.id]);
  for (const request of split.requests) {
    const key = request.splitKey;
    if (key.length === 0) return "empty split key";
    if (Buffer.compare(key, previous) <= 0) return "split keys must ascend strictly from the region start";
    if (!keyInRegion(key, region)) return "split key outside the region";
    if (ids.has(request.newRegionId)) return `region id ${request.newRegionId} used twice`;
    if (request.newPeerIds.length !== region.peers.length) {
      return `${request.newPeerIds.length} new peer ids for ${region.peers.length} peers`;
    }
    ids.add(request.newRegionId);
    previous = key;
  }
  return undefined;
}

/** The parent (left-most range) first, then one region per split key, all at the new version. */
function splitRegions(region: metapb.Region, split: raft_cmdpb.BatchSplitRequest): metapb.Region[] {
  const epoch = epochOf(region);
  const regionEpoch = { confVer: epoch.confVer, version: epoch.version + BigInt(split.requests.length) };
  const requests = split.requests;
  const parent: metapb.Region = { ...cloneRegion(region), endKey: requests[0]!.splitKey, regionEpoch };
  const created = requests.map(
    (request, index): metapb.Region => ({
      id: request.newRegionId,
      startKey: request.splitKey,
      endKey: requests[index + 1]?.splitKey ?? region.endKey,
      regionEpoch,
      peers: region.peers.map((peer, position) => ({
        id: request.newPeerIds[position]!,
        storeId: peer.storeId,
        role: peer.role,
      })),
    }),
  );
  return [parent, ...created];
}

// ---- log GC ----------------------------------------------------------------------------------------------

function applyCompactLog(
  turn: ApplyTurn,
  state: ApplyState,
  entryIndex: number,
  request: raft_cmdpb.CompactLogRequest,
  termOf: (index: number) => number,
): EntryResult {
  const compactIndex = Number(request.compactIndex);
  const response: CommandOutcome = {
    ok: true,
    response: { responses: [], adminResponse: { cmd: { $case: "compactLog", value: {} } } },
  };
  if (compactIndex <= state.truncatedIndex) return { outcome: response };
  if (compactIndex >= entryIndex) {
    return failed(
      new InvalidCommandError(
        state.region.id,
        entryIndex,
        `compact index ${compactIndex} is not before the command itself`,
      ),
    );
  }
  state.truncatedTerm = termOf(compactIndex);
  state.truncatedIndex = compactIndex;
  turn.syncRequired = true;
  return {
    outcome: response,
    effect: { kind: "compact-log", compactIndex, compactTerm: state.truncatedTerm },
  };
}
