/**
 * Region snapshots through the raft core's protocol.
 *
 * Leader side: raft asks storage for a snapshot; storage answers "temporarily unavailable" and the store
 * generates one from a consistent kv engine view pinned right after a turn's apply (so it holds exactly
 * the state at the applied index) and offers it to raft, which sends it on its next try. The stream is
 * produced from the pinned view while it is sent, once per send. A MsgSnapshot in a Ready goes through
 * the transport's snapshot stream instead of the raft stream; its outcome is reported back to raft.
 *
 * Follower side: a received snapshot is checked (it must name this peer, be newer than what the peer
 * applied, and not overlap another region here), its range is reserved, it is staged on disk whole, and
 * only then is its raft message stepped; if raft accepts it, the Ready carries it and the store loop
 * installs it (off the loop's critical path) before persisting anything else of that Ready.
 */
import { type metapb, raft_serverpb } from "#proto";
import type { HardState, Message, Snapshot } from "#raft";
import { type AppliedSnapshot, applySnapshot } from "../snapshot/snapshot-applier.ts";
import { type GeneratedSnapshot, generateSnapshot } from "../snapshot/snapshot-generator.ts";
import { receiveSnapshot } from "../snapshot/snapshot-receiver.ts";
import type { SnapshotKey } from "../snapshot/snapshot-store.ts";
import { type KeyRange, rangeDifference } from "./key-range-difference.ts";
import { envelopeOf } from "./outbox.ts";
import type { Peer } from "./peer.ts";
import { messageFromWire } from "./raft-message.ts";
import { isEpochStale } from "./region-epoch.ts";
import { confStateOfRegion, describeRegion, epochOf, findPeer } from "./region-meta.ts";
import type { StoreContext } from "./store-context.ts";

export interface OutgoingSnapshot {
  readonly snapshot: Snapshot;
  readonly generated: GeneratedSnapshot;
  /** Streams in flight: the view stays pinned until they end. */
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

// ---- leader side -----------------------------------------------------------------------------------------

/** Pins the kv view now (after the turn's apply) and finishes the snapshot in the background. */
export function startSnapshotGeneration(context: StoreContext, peer: Peer): void {
  if (peer.generatingSnapshot || peer.destroyed || !peer.initialized) return;
  peer.generatingSnapshot = true;
  peer.snapshotWanted = false;
  const generation = generateSnapshot(context.engines.kvEngine, peer.regionId, {
    termOf: (index) => peer.storage.term(index),
    chunkSizeBytes: context.config.snapshotChunkSizeBytes,
  });
  void finishGeneration(context, peer, generation).finally(() => {
    peer.generatingSnapshot = false;
  });
}

async function finishGeneration(
  context: StoreContext,
  peer: Peer,
  generation: Promise<GeneratedSnapshot>,
): Promise<void> {
  let generated: GeneratedSnapshot;
  try {
    generated = await generation;
  } catch (error) {
    context.logger.warn({ regionId: peer.regionId, err: error }, "snapshot generation failed");
    return;
  }
  const { index, term, confState, data, region } = generated.metadata;
  // The region may have changed while the view was read (a conf change applied meanwhile): such a
  // snapshot misses a peer added since, which would refuse it. Raft asks again and gets a fresh one.
  if (peer.destroyed || isEpochStale(epochOf(region), epochOf(peer.region))) {
    await generated.release();
    return;
  }
  const snapshot: Snapshot = { metadata: { index, term, confState }, data };
  replaceOutgoing(peer, {
    snapshot,
    generated,
    sends: 0,
    lastUsedMs: context.clock.monotonicMs(),
    released: false,
  });
  peer.storage.offerSnapshot(snapshot, epochOf(region));
  context.metrics.snapshots.inc({ event: "generated" });
}

function replaceOutgoing(peer: Peer, next: OutgoingSnapshot | undefined): void {
  const previous = peer.outgoingSnapshot;
  peer.outgoingSnapshot = next;
  if (previous !== undefined) releaseWhenIdle(previous);
}

function releaseWhenIdle(outgoing: OutgoingSnapshot): void {
  if (outgoing.sends > 0 || outgoing.released) return;
  outgoing.released = true;
  void outgoing.generated.release();
}

/** Releases the peer's snapshot after `snapshotTimeToLiveMs` unused (it pins RocksDB files). */
export function expireOutgoingSnapshot(context: StoreContext, peer: Peer, nowMs: number): void {
  const outgoing = peer.outgoingSnapshot;
  if (outgoing === undefined || outgoing.sends > 0) return;
  if (nowMs - outgoing.lastUsedMs < context.config.snapshotTimeToLiveMs) return;
  peer.storage.forgetSnapshot();
  replaceOutgoing(peer, undefined);
}

/** Streams the snapshot a MsgSnapshot announces; the outcome goes back to raft through the mailbox. */
export function sendSnapshotMessage(context: StoreContext, peer: Peer, message: Message): void {
  const toPeer = peer.peerCache.get(message.to);
  const outgoing = peer.outgoingSnapshot;
  const report = (status: "finish" | "failure"): void => {
    peer.mailbox.push({ kind: "snapshot-status", to: message.to, status });
    context.wake(peer);
  };
  if (
    toPeer === undefined ||
    outgoing === undefined ||
    outgoing.released ||
    outgoing.snapshot.metadata.index !== message.snapshot?.metadata.index
  ) {
    report("failure");
    return;
  }
  outgoing.sends++;
  outgoing.lastUsedMs = context.clock.monotonicMs();
  const envelope = envelopeOf(peer, message, toPeer);
  context.transport
    .sendSnapshot(toPeer.storeId, envelope, outgoing.generated.chunks)
    .then(
      () => {
        context.metrics.snapshots.inc({ event: "sent" });
        report("finish");
      },
      (error: unknown) => {
        context.metrics.snapshots.inc({ event: "send_failed" });
        context.logger.info(
          { regionId: peer.regionId, toPeer: toPeer.id, err: error },
          "snapshot send failed",
        );
        report("failure");
      },
    )
    .finally(() => {
      outgoing.sends--;
      if (peer.outgoingSnapshot !== outgoing || peer.destroyed) releaseWhenIdle(outgoing);
    });
}

/**
 * The region changed (membership, range): a snapshot generated before describes the old region, which a
 * new member would refuse (it is not in it) and a follower must not install.
 */
export function invalidateOutgoingSnapshot(peer: Peer): void {
  if (peer.outgoingSnapshot === undefined) return;
  peer.storage.forgetSnapshot();
  replaceOutgoing(peer, undefined);
}

/** The peer is going away: its snapshots are no longer needed. */
export function dropPeerSnapshots(context: StoreContext, peer: Peer): void {
  replaceOutgoing(peer, undefined);
  discardIncomingSnapshot(context, peer);
}

// ---- follower side ---------------------------------------------------------------------------------------

/**
 * Checks a received snapshot, reserves its range (synchronously, before anything is read) and stages it;
 * once staged and verified, its raft message is queued for the peer and the promise resolves, so the
 * sender hears of success only for a snapshot this store holds whole. Rejects with SnapshotRefusedError
 * when the store cannot take it, and with the receive's error for a broken or corrupt stream.
 */
export async function acceptSnapshot(
  context: StoreContext,
  envelope: raft_serverpb.RaftMessage,
  chunks: AsyncIterable<Uint8Array>,
): Promise<void> {
  const regionId = envelope.regionId;
  const refusal = (reason: string): SnapshotRefusedError => {
    context.metrics.snapshots.inc({ event: "rejected" });
    return new SnapshotRefusedError(regionId, reason);
  };
  const wire = envelope.message;
  if (wire?.snapshot === undefined) throw refusal("the message carries no snapshot");
  const message = messageFromWire(wire);
  const snapshot = message.snapshot!;
  const peer = context.meta.peers.get(regionId);
  if (peer === undefined || peer.destroyed) throw refusal("no peer of the region on this store");
  if (envelope.toPeer?.id !== peer.meta.id) throw refusal(`addressed to peer ${envelope.toPeer?.id}`);
  const region = snapshotRegion(snapshot, regionId);
  const problem = snapshotProblem(context, peer, snapshot, region);
  if (problem !== undefined) throw refusal(problem);
  const key: SnapshotKey = { regionId, index: snapshot.metadata.index, term: snapshot.metadata.term };
  context.meta.pendingSnapshots.set(regionId, region);
  peer.incomingSnapshot = { key, region };
  await stageSnapshot(context, peer, key, chunks);
  if (peer.destroyed || peer.incomingSnapshot?.key !== key) {
    await context.engines.snapshotStore.delete(key);
    throw refusal("the peer went away while the snapshot was received");
  }
  context.metrics.snapshots.inc({ event: "received" });
  peer.mailbox.push({ kind: "raft", message, envelope });
  context.wake(peer);
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
  if (peer.incomingSnapshot !== undefined) return "another snapshot is being installed";
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

async function stageSnapshot(
  context: StoreContext,
  peer: Peer,
  key: SnapshotKey,
  chunks: AsyncIterable<Uint8Array>,
): Promise<void> {
  try {
    await receiveSnapshot(context.engines.snapshotStore, key, chunks);
  } catch (error) {
    context.logger.warn({ regionId: peer.regionId, err: error }, "staging a received snapshot failed");
    context.metrics.snapshots.inc({ event: "receive_failed" });
    if (peer.incomingSnapshot?.key === key) discardIncomingSnapshot(context, peer);
    throw error;
  }
}

/** Raft did not take the staged snapshot (or the peer went away): free its range and its file. */
export function discardIncomingSnapshot(context: StoreContext, peer: Peer): void {
  const incoming = peer.incomingSnapshot;
  if (incoming === undefined) return;
  peer.incomingSnapshot = undefined;
  if (context.meta.pendingSnapshots.get(peer.regionId) === incoming.region) {
    context.meta.pendingSnapshots.delete(peer.regionId);
  }
  void context.engines.snapshotStore.delete(incoming.key);
}

/**
 * Starts installing the snapshot raft accepted in a Ready: kv data, apply state and region meta, then the
 * raft log reset, all on the engines (snapshot-applier.ts). Checks and reads the store's bookkeeping now,
 * synchronously; the store loop keeps the peer's Ready (and the peer) waiting until the returned promise
 * settles and then calls `adoptInstalledSnapshot`, so other regions run meanwhile.
 */
export function installSnapshot(
  context: StoreContext,
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
  return applySnapshot(
    {
      kvEngine: context.engines.kvEngine,
      raftLogStore: context.engines.raftLogStore,
      snapshotStore: context.engines.snapshotStore,
    },
    incoming.key,
    { hardState, abandonedRanges: abandonedRanges(context, peer, incoming.region) },
  );
}

/** The installed snapshot's state becomes the peer's (run by the store loop, like every peer change). */
export function adoptInstalledSnapshot(context: StoreContext, peer: Peer, applied: AppliedSnapshot): void {
  peer.incomingSnapshot = undefined;
  context.meta.pendingSnapshots.delete(peer.regionId);
  adoptSnapshot(context, peer, applied.region, applied.key.index, applied.key.term);
  peer.storage.hardState = applied.raftState.hardState;
  context.metrics.snapshots.inc({ event: "applied" });
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

function adoptSnapshot(
  context: StoreContext,
  peer: Peer,
  region: metapb.Region,
  index: number,
  term: number,
): void {
  const confState = confStateOfRegion(region);
  peer.storage.installSnapshot(index, term, confState);
  context.meta.ranges.replace(peer.initialized ? [peer.region] : [], [region]);
  peer.region = region;
  peer.initialized = true;
  peer.appliedIndex = index;
  peer.appliedTerm = term;
  peer.firstStoredIndex = index + 1;
  peer.dataGeneration++;
  peer.writtenBytes = 0;
  peer.writtenKeys = 0;
  peer.rememberPeers(region);
  context.regionChanged(peer.regionId);
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
