/**
 * Region snapshots through the raft core's protocol.
 *
 * Leader side: raft asks storage for a snapshot; storage answers "temporarily unavailable" and the loop
 * starts a generation job from a consistent kv engine view pinned right after a turn's apply (so it holds
 * exactly the state at the applied index). The job posts the result to the peer's mailbox; the next turn
 * offers it to raft, which sends it on its next try. A MsgSnapshot in a Ready is streamed by a send task
 * from the pinned view, once per send, and the outcome goes back to raft through the mailbox.
 *
 * Follower side: a received snapshot is checked in a turn (it must name this peer, be newer than what the
 * peer applied, and not overlap another region here) and its range reserved; the gRPC handler stages it
 * on disk whole; a second turn steps its raft message. If raft accepts it, the Ready carries it and the
 * loop installs it (off the loop's critical path) before persisting anything else of that Ready.
 *
 * Every background part (generation, sends, releases, file deletions) runs in the store's task scope.
 */
import { type metapb, raft_serverpb } from "#proto";
import type { HardState, Message, Snapshot } from "#raft";
import { type AppliedSnapshot, applySnapshot } from "../snapshot/snapshot-applier.ts";
import { type GeneratedSnapshot, generateSnapshot } from "../snapshot/snapshot-generator.ts";
import { receiveSnapshot } from "../snapshot/snapshot-receiver.ts";
import type { SnapshotKey } from "../snapshot/snapshot-store.ts";
import { abortable } from "./abortable-chunks.ts";
import { type KeyRange, rangeDifference } from "./key-range-difference.ts";
import { envelopeOf } from "./outbox.ts";
import type { Peer } from "./peer.ts";
import { messageFromWire } from "./raft-message.ts";
import { isEpochStale } from "./region-epoch.ts";
import { describeRegion, epochOf, findPeer } from "./region-meta.ts";
import type { StoreContext } from "./store-context.ts";
import type { Turn } from "./turn.ts";

export interface OutgoingSnapshot {
  readonly snapshot: Snapshot;
  readonly generated: GeneratedSnapshot;
  /** Streams in flight: the view stays pinned until they end. Changed only in turns. */
  sends: number;
  lastUsedMs: number;
  released: boolean;
}

export interface IncomingSnapshot {
  readonly key: SnapshotKey;
  readonly region: metapb.Region;
}

/** The store refuses a received snapshot (the sender reports a failed send to raft and retries later). */
export class SnapshotRefusedError extends Error {
  override readonly name = "SnapshotRefusedError";
  constructor(
    readonly regionId: bigint,
    readonly reason: string,
  ) {
    super(`region ${regionId}: snapshot refused: ${reason}`);
  }
}

export class SnapshotInstallError extends Error {
  override readonly name = "SnapshotInstallError";
  constructor(
    readonly regionId: bigint,
    detail: string,
  ) {
    super(`region ${regionId}: ${detail}`);
  }
}

// ---- leader side -----------------------------------------------------------------------------------------

/** Pins the kv view now (after the turn's apply) and finishes the snapshot in a background job. */
export function startSnapshotGeneration(context: StoreContext, turn: Turn, peer: Peer): void {
  if (peer.isGoingAway || !peer.initialized || !peer.startJob(turn, "snapshot-generation")) return;
  const report = (generated: GeneratedSnapshot | undefined): void => {
    peer.mailbox.push({ kind: "snapshot-generated", generated });
    context.wake(peer);
  };
  // The task starts synchronously inside spawn, and generateSnapshot pins its view before its first
  // await: the view is the state right after this turn's apply.
  const spawned = context.scope.spawn(`generate snapshot of region ${peer.regionId}`, async () => {
    const generation = generateSnapshot(context.engines.kvEngine, peer.regionId, {
      termOf: (index) => peer.log.term(index),
      chunkSizeBytes: context.config.snapshotChunkSizeBytes,
    });
    let generated: GeneratedSnapshot;
    try {
      generated = await generation;
    } catch (error) {
      context.logger.warn({ regionId: peer.regionId, err: error }, "snapshot generation failed");
      report(undefined);
      return;
    }
    report(generated);
  });
  if (!spawned) peer.finishJob(turn, "snapshot-generation");
}

/** A generation job ended: offers its snapshot to raft unless the region changed meanwhile. */
export function onSnapshotGenerated(
  context: StoreContext,
  turn: Turn,
  peer: Peer,
  generated: GeneratedSnapshot | undefined,
): void {
  peer.finishJob(turn, "snapshot-generation");
  if (generated === undefined) return;
  const { index, term, confState, data, region } = generated.metadata;
  // The region may have changed while the view was read (a conf change applied meanwhile): such a
  // snapshot misses a peer added since, which would refuse it. Raft asks again and gets a fresh one.
  if (peer.isGoingAway || isEpochStale(epochOf(region), epochOf(peer.region))) {
    releaseGenerated(context, generated);
    return;
  }
  const snapshot: Snapshot = { metadata: { index, term, confState }, data };
  replaceOutgoing(context, turn, peer, {
    snapshot,
    generated,
    sends: 0,
    lastUsedMs: turn.nowMs,
    released: false,
  });
  context.metrics.snapshots.inc({ event: "generated" });
}

function replaceOutgoing(
  context: StoreContext,
  turn: Turn,
  peer: Peer,
  next: OutgoingSnapshot | undefined,
): void {
  const previous = peer.setOutgoingSnapshot(turn, next);
  if (previous !== undefined) releaseWhenIdle(context, previous);
}

function releaseWhenIdle(context: StoreContext, outgoing: OutgoingSnapshot): void {
  if (outgoing.sends > 0 || outgoing.released) return;
  outgoing.released = true;
  releaseGenerated(context, outgoing.generated);
}

/** Unpins a generated snapshot's view in the background. */
export function releaseGenerated(context: StoreContext, generated: GeneratedSnapshot): void {
  const regionId = generated.metadata.regionId;
  if (!context.scope.spawn(`release snapshot view of region ${regionId}`, () => generated.release())) {
    context.logger.warn({ regionId }, "store closing: snapshot view released with the engine");
  }
}

/** Releases the peer's snapshot after `snapshotTimeToLiveMs` unused (it pins RocksDB files). */
export function expireOutgoingSnapshot(context: StoreContext, turn: Turn, peer: Peer): void {
  const outgoing = peer.outgoingSnapshot;
  if (outgoing === undefined || outgoing.sends > 0) return;
  if (turn.nowMs - outgoing.lastUsedMs < context.config.snapshotTimeToLiveMs) return;
  replaceOutgoing(context, turn, peer, undefined);
}

/** Streams the snapshot a MsgSnapshot announces; the outcome goes back to raft through the mailbox. */
export function sendSnapshotMessage(context: StoreContext, turn: Turn, peer: Peer, message: Message): void {
  const toPeer = peer.knownPeer(message.to);
  const outgoing = peer.outgoingSnapshot;
  const report = (status: "finish" | "failure", sent: OutgoingSnapshot | undefined): void => {
    peer.mailbox.push({ kind: "snapshot-status", to: message.to, status, sent });
    context.wake(peer);
  };
  if (
    toPeer === undefined ||
    outgoing === undefined ||
    outgoing.released ||
    outgoing.snapshot.metadata.index !== message.snapshot?.metadata.index
  ) {
    report("failure", undefined);
    return;
  }
  const envelope = envelopeOf(peer, message, toPeer);
  const spawned = context.scope.spawn(`send snapshot of region ${peer.regionId}`, async (signal) => {
    try {
      await context.transport.sendSnapshot(
        toPeer.storeId,
        envelope,
        abortable(outgoing.generated.chunks, signal),
      );
    } catch (error) {
      context.metrics.snapshots.inc({ event: "send_failed" });
      context.logger.info({ regionId: peer.regionId, toPeer: toPeer.id, err: error }, "snapshot send failed");
      report("failure", outgoing);
      return;
    }
    context.metrics.snapshots.inc({ event: "sent" });
    report("finish", outgoing);
  });
  if (!spawned) {
    report("failure", undefined);
    return;
  }
  outgoing.sends++;
  outgoing.lastUsedMs = turn.nowMs;
}

/** A send ended: reports it to raft and releases the view once nothing uses it. */
export function onSnapshotSent(
  context: StoreContext,
  turn: Turn,
  peer: Peer,
  task: {
    readonly to: number;
    readonly status: "finish" | "failure";
    readonly sent: OutgoingSnapshot | undefined;
  },
): void {
  const { sent } = task;
  if (sent !== undefined) {
    sent.sends--;
    if (peer.outgoingSnapshot !== sent || peer.isGoingAway) releaseWhenIdle(context, sent);
  }
  if (!peer.isGoingAway) peer.reportSnapshot(turn, task.to, task.status);
}

/**
 * The region changed (membership, range): a snapshot generated before describes the old region, which a
 * new member would refuse (it is not in it) and a follower must not install.
 */
export function invalidateOutgoingSnapshot(context: StoreContext, turn: Turn, peer: Peer): void {
  if (peer.outgoingSnapshot === undefined) return;
  replaceOutgoing(context, turn, peer, undefined);
}

/** The peer is going away: its snapshots are no longer needed. */
export function dropPeerSnapshots(context: StoreContext, turn: Turn, peer: Peer): void {
  replaceOutgoing(context, turn, peer, undefined);
  discardIncomingSnapshot(context, turn, peer);
}

// ---- follower side ---------------------------------------------------------------------------------------

/**
 * Checks a received snapshot and reserves its range in a turn, stages it on disk, and in a second turn
 * queues its raft message for the peer; resolves then, so the sender hears of success only for a snapshot
 * this store holds whole. Rejects with SnapshotRefusedError when the store cannot take it, and with the
 * receive's error for a broken or corrupt stream. Run by the gRPC handler that owns the stream.
 */
export async function acceptSnapshot(
  context: StoreContext,
  envelope: raft_serverpb.RaftMessage,
  chunks: AsyncIterable<Uint8Array>,
): Promise<void> {
  const regionId = envelope.regionId;
  const wire = envelope.message;
  if (wire?.snapshot === undefined) throw refusal(context, regionId, "the message carries no snapshot");
  const message = messageFromWire(wire);
  const snapshot = message.snapshot!;
  const region = snapshotRegion(snapshot, regionId);
  const key: SnapshotKey = { regionId, index: snapshot.metadata.index, term: snapshot.metadata.term };
  const peer = await context.loop.runInTurn("reserve a received snapshot", (turn) =>
    reserveIncoming(context, turn, envelope, snapshot, { key, region }),
  );
  try {
    await receiveSnapshot(context.engines.snapshotStore, key, chunks);
  } catch (error) {
    context.logger.warn({ regionId, err: error }, "staging a received snapshot failed");
    context.metrics.snapshots.inc({ event: "receive_failed" });
    await context.loop.runInTurn("discard a failed snapshot", (turn) => {
      if (peer.incomingSnapshot?.key === key) discardIncomingSnapshot(context, turn, peer);
    });
    throw error;
  }
  await context.loop.runInTurn("deliver a received snapshot", () => {
    if (peer.isGoingAway || peer.incomingSnapshot?.key !== key) {
      deleteSnapshotFile(context, key);
      throw refusal(context, regionId, "the peer went away while the snapshot was received");
    }
    context.metrics.snapshots.inc({ event: "received" });
    peer.mailbox.push({ kind: "raft", message, envelope });
    context.wake(peer);
  });
}

function refusal(context: StoreContext, regionId: bigint, reason: string): SnapshotRefusedError {
  context.metrics.snapshots.inc({ event: "rejected" });
  return new SnapshotRefusedError(regionId, reason);
}

function reserveIncoming(
  context: StoreContext,
  turn: Turn,
  envelope: raft_serverpb.RaftMessage,
  snapshot: Snapshot,
  incoming: IncomingSnapshot,
): Peer {
  const regionId = envelope.regionId;
  const peer = context.meta.peer(regionId);
  if (peer === undefined || peer.isGoingAway)
    throw refusal(context, regionId, "no peer of the region on this store");
  if (envelope.toPeer?.id !== peer.meta.id) {
    throw refusal(context, regionId, `addressed to peer ${envelope.toPeer?.id}`);
  }
  const problem = snapshotProblem(context, peer, snapshot, incoming.region);
  if (problem !== undefined) throw refusal(context, regionId, problem);
  context.meta.reserveSnapshot(turn, incoming.region);
  peer.setIncomingSnapshot(turn, incoming);
  return peer;
}

function snapshotRegion(snapshot: Snapshot, regionId: bigint): metapb.Region {
  let data: raft_serverpb.RaftSnapshotData;
  try {
    data = raft_serverpb.RaftSnapshotData.decode(snapshot.data);
  } catch (error) {
    throw new SnapshotRefusedError(regionId, `snapshot data does not decode: ${String(error)}`);
  }
  if (data.region === undefined || data.region.id !== regionId) {
    throw new SnapshotRefusedError(regionId, "snapshot data names another region");
  }
  return data.region;
}

/** TiKV's check_snapshot: why this peer cannot take the snapshot now, if it cannot. */
function snapshotProblem(
  context: StoreContext,
  peer: Peer,
  snapshot: Snapshot,
  region: metapb.Region,
): string | undefined {
  if (peer.incomingSnapshot !== undefined || peer.isApplyingSnapshot) {
    return "another snapshot is being installed";
  }
  if (findPeer(region, peer.meta.id) === undefined) return "the snapshot's region does not include this peer";
  if (peer.initialized && isEpochStale(epochOf(region), epochOf(peer.region))) {
    return `stale epoch: ${describeRegion(region)} vs ${describeRegion(peer.region)}`;
  }
  if (snapshot.metadata.index <= peer.appliedIndex) {
    return `snapshot index ${snapshot.metadata.index} is not above the applied index ${peer.appliedIndex}`;
  }
  const overlapping = context.meta.overlaps(peer.regionId, region.startKey, region.endKey);
  if (overlapping.length > 0) return `overlaps ${overlapping.map(describeRegion).join(", ")}`;
  return undefined;
}

/** Raft did not take the staged snapshot (or the peer went away): free its range and its file. */
export function discardIncomingSnapshot(context: StoreContext, turn: Turn, peer: Peer): void {
  const incoming = peer.incomingSnapshot;
  if (incoming === undefined) return;
  peer.setIncomingSnapshot(turn, undefined);
  context.meta.releaseSnapshot(turn, incoming.region);
  deleteSnapshotFile(context, incoming.key);
}

function deleteSnapshotFile(context: StoreContext, key: SnapshotKey): void {
  const spawned = context.scope.spawn(`delete snapshot file of region ${key.regionId}`, () =>
    context.engines.snapshotStore.delete(key),
  );
  // A closing store leaves the file; the snapshot store clears stale files when it opens.
  if (!spawned)
    context.logger.info({ regionId: key.regionId }, "store closing: staged snapshot left on disk");
}

/**
 * Starts installing the snapshot raft accepted in a Ready: kv data, apply state and region meta, then the
 * raft log reset, all on the engines (snapshot-applier.ts). Checks and reads the store's bookkeeping now,
 * in the turn; the loop keeps the peer's Ready (and the peer) waiting until the returned promise settles
 * and then calls `adoptInstalledSnapshot`, so other regions run meanwhile.
 */
export function installSnapshot(
  context: StoreContext,
  turn: Turn,
  peer: Peer,
  snapshot: Snapshot,
  hardState: HardState | undefined,
): Promise<AppliedSnapshot> {
  const incoming = peer.incomingSnapshot;
  const { index, term } = snapshot.metadata;
  if (incoming === undefined || incoming.key.index !== index || incoming.key.term !== term) {
    throw new SnapshotInstallError(
      peer.regionId,
      `raft accepted snapshot (${index}, ${term}) that was not staged`,
    );
  }
  const abandoned = abandonedRanges(context, peer, incoming.region);
  peer.beginSnapshotInstall(turn);
  return applySnapshot(
    {
      kvEngine: context.engines.kvEngine,
      raftLogStore: context.engines.raftLogStore,
      snapshotStore: context.engines.snapshotStore,
    },
    incoming.key,
    { hardState, abandonedRanges: abandoned },
  );
}

/** The installed snapshot's state becomes the peer's. */
export function adoptInstalledSnapshot(
  context: StoreContext,
  turn: Turn,
  peer: Peer,
  applied: AppliedSnapshot,
): void {
  const incoming = peer.incomingSnapshot;
  peer.setIncomingSnapshot(turn, undefined);
  if (incoming !== undefined) context.meta.releaseSnapshot(turn, incoming.region);
  const previous = peer.initialized ? [peer.region] : [];
  peer.finishSnapshotInstall(
    turn,
    applied.region,
    applied.key.index,
    applied.key.term,
    applied.raftState.hardState,
  );
  context.meta.replaceRanges(turn, previous, [applied.region]);
  context.metrics.snapshots.inc({ event: "applied" });
  context.regionChanged(peer.regionId);
}

/**
 * What the peer held that the snapshot's region no longer covers (the peer missed a split, so its old
 * range is larger) and no other region here owns: nobody else would ever clear it.
 */
function abandonedRanges(context: StoreContext, peer: Peer, region: metapb.Region): KeyRange[] {
  if (!peer.initialized) return [];
  const owned = context.meta.overlaps(peer.regionId, peer.region.startKey, peer.region.endKey);
  return rangeDifference(peer.region, [region, ...owned]);
}
