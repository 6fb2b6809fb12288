/**
 * Where peers come from and how they go (TinyKV's maybeCreatePeer / destroyPeer, TiKV's stale peer GC).
 *
 * Creation: a message for a region this store does not hold creates an empty (uninitialized) peer only
 * when it is a valid first message from the region's current members — a vote request, or a leader's
 * heartbeat that commits nothing (a leader never lets a follower commit past what it holds, so a brand
 * new follower gets commit 0) — and only when no region here already covers any key of the sender's
 * range and no tombstone here is as new as the sender's membership. The peer gets its data from a
 * snapshot.
 *
 * Destruction: a peer that applied its own removal, learned from a member that it was removed
 * (`is_tombstone`), was replaced by a newer peer id on this store, or was found removed by asking pd,
 * writes a Tombstone region state in the same kv batch that clears its data, then deletes its raft log.
 * The tombstone keeps refusing messages for older peers, and for the destroyed one from memberships no
 * newer than its own, across restarts; and answers a removed peer that still campaigns with
 * `is_tombstone`.
 */
import { metapb, raft_serverpb } from "#proto";
import { type Message, MessageType, NONE } from "#raft";
import { WriteBatch } from "#rocksdb";
import { clearRange, deleteApplyState, putRegionState } from "../engine/kv-engine.ts";
import type { RaftState } from "../engine/raft-log-store.ts";
import { Peer } from "./peer.ts";
import { PeerLifecycleError } from "./peer-lifecycle-state.ts";
import { dropPeerSnapshots, onSnapshotSent, releaseGenerated } from "./peer-snapshot.ts";
import { InvalidRaftMessageError, messageFromWire } from "./raft-message.ts";
import { isEpochStale } from "./region-epoch.ts";
import { RegionNotFoundError } from "./region-errors.ts";
import { cloneRegion, epochOf, findPeer } from "./region-meta.ts";
import type { StoreContext } from "./store-context.ts";
import type { Tombstone } from "./store-meta.ts";
import type { Turn } from "./turn.ts";

const NO_EPOCH = { confVer: 0n, version: 0n };

/** A message only a region's current members send first to a peer that may not exist yet. */
export function isInitialMessage(message: Message): boolean {
  return (
    message.type === MessageType.RequestVote ||
    message.type === MessageType.RequestPreVote ||
    (message.type === MessageType.Heartbeat && message.commit === 0)
  );
}

function isFirstVote(message: Message): boolean {
  return message.type === MessageType.RequestVote || message.type === MessageType.RequestPreVote;
}

/**
 * Routes one incoming raft message to its peer's mailbox, creating or destroying peers as the rules say.
 * Runs in a turn: routing may change the store's bookkeeping (held votes, peers being created).
 */
export function routeRaftMessage(
  context: StoreContext,
  turn: Turn,
  envelope: raft_serverpb.RaftMessage,
): void {
  const dropped = route(context, turn, envelope);
  if (dropped !== undefined) context.metrics.raftMessagesDropped.inc({ reason: dropped });
}

/** Why the message was dropped, or undefined when it went somewhere. */
type DropReason = string | undefined;

function route(context: StoreContext, turn: Turn, envelope: raft_serverpb.RaftMessage): DropReason {
  if (envelope.toPeer?.storeId !== context.storeId) return "wrong_store";
  if (envelope.fromPeer === undefined || envelope.toPeer.id === 0n) return "malformed";
  if (envelope.isTombstone) return handleGcMessage(context, turn, envelope);
  const message = decodeMessage(envelope);
  if (message === undefined || message.to !== Number(envelope.toPeer.id)) return "malformed";
  // Snapshots arrive on their own stream with their data (acceptSnapshot); local types never travel.
  if (message.type === MessageType.Snapshot || isLocalOnly(message.type)) return "unexpected_type";
  if (context.meta.isBusy(envelope.regionId)) return "region_busy";
  const peer = context.meta.peer(envelope.regionId);
  if (peer === undefined) return maybeCreatePeer(context, turn, envelope, message);
  return deliverToPeer(context, turn, peer, envelope, message);
}

function decodeMessage(envelope: raft_serverpb.RaftMessage): Message | undefined {
  if (envelope.message === undefined) return undefined;
  try {
    return messageFromWire(envelope.message);
  } catch (error) {
    if (error instanceof InvalidRaftMessageError) return undefined;
    throw error;
  }
}

function isLocalOnly(type: MessageType): boolean {
  return (
    type === MessageType.Hup ||
    type === MessageType.Beat ||
    type === MessageType.Unreachable ||
    type === MessageType.SnapStatus ||
    type === MessageType.CheckQuorum
  );
}

function deliverToPeer(
  context: StoreContext,
  turn: Turn,
  peer: Peer,
  envelope: raft_serverpb.RaftMessage,
  message: Message,
): DropReason {
  if (peer.isGoingAway) return "peer_destroyed";
  const toPeerId = envelope.toPeer!.id;
  if (toPeerId > peer.meta.id) {
    // A newer peer of this region was added on this store: this one was removed without learning it.
    requestDestroy(context, turn, peer, `replaced by peer ${toPeerId}`);
    return "stale_target_peer";
  }
  // Also when the message is for an older peer here, destroyed since: its sender is as stale.
  if (isFromStalePeer(peer, envelope)) {
    if (peer.initialized) sendGcMessage(context, peer.meta, peer.region, envelope);
    return "stale_sender";
  }
  if (toPeerId < peer.meta.id) return "stale_target_peer";
  if (!peer.mailbox.offer({ kind: "raft", message, envelope })) return "mailbox_full";
  context.wake(peer);
  return undefined;
}

/** The sender is not a member as this peer knows the region, and its membership is older. */
function isFromStalePeer(peer: Peer, envelope: raft_serverpb.RaftMessage): boolean {
  if (!peer.initialized || findPeer(peer.region, envelope.fromPeer!.id) !== undefined) return false;
  const senderEpoch = envelope.regionEpoch ?? NO_EPOCH;
  return senderEpoch.confVer < epochOf(peer.region).confVer;
}

/**
 * Tells the sender of `envelope`, no longer a member, to destroy itself; `self` and `region` are this
 * store's peer (live, or destroyed for a tombstone) and the newer region it knows.
 */
function sendGcMessage(
  context: StoreContext,
  self: metapb.Peer,
  region: metapb.Region,
  envelope: raft_serverpb.RaftMessage,
): void {
  const target = envelope.fromPeer!;
  context.transport.send(target.storeId, [
    raft_serverpb.RaftMessage.fromPartial({
      regionId: region.id,
      fromPeer: self,
      toPeer: target,
      regionEpoch: region.regionEpoch,
      isTombstone: true,
      startKey: region.startKey,
      endKey: region.endKey,
    }),
  ]);
}

function handleGcMessage(context: StoreContext, turn: Turn, envelope: raft_serverpb.RaftMessage): DropReason {
  const peer = context.meta.peer(envelope.regionId);
  if (peer === undefined || peer.destroyed || envelope.toPeer?.id !== peer.meta.id) return "stale_gc";
  // Only a member that knows a newer region than this peer can know it was removed.
  if (!isEpochStale(epochOf(peer.region), envelope.regionEpoch ?? NO_EPOCH)) return "stale_gc";
  requestDestroy(context, turn, peer, `peer ${envelope.fromPeer?.id} says it was removed`);
  return undefined;
}

function maybeCreatePeer(
  context: StoreContext,
  turn: Turn,
  envelope: raft_serverpb.RaftMessage,
  message: Message,
): DropReason {
  const { meta } = context;
  const regionId = envelope.regionId;
  const tombstone = meta.tombstone(regionId);
  if (tombstone !== undefined) {
    const refusal = tombstoneRefusal(context, tombstone, envelope, message);
    if (refusal !== undefined) return refusal;
  }
  if (!isInitialMessage(message)) return "region_not_found";
  if (meta.overlaps(regionId, envelope.startKey, envelope.endKey).length > 0) {
    // Usually a split that has not applied here yet: its new region's first votes are replayed once it has.
    if (isFirstVote(message)) meta.holdVote(turn, envelope);
    return "overlapping_region";
  }
  const spawned = context.scope.spawn(`create peer of region ${regionId}`, () =>
    createPeer(context, envelope, message),
  );
  if (!spawned) return "store_closing";
  meta.markBusy(turn, regionId);
  return undefined;
}

/**
 * Why a message for a region whose peer here was destroyed cannot create a new peer (TiKV's tombstone
 * checks): it comes from a membership no newer than the destroyed peer's, or it is for a peer older than
 * the destroyed one. The destroyed peer's own id may come back with a newer membership (TinyKV's tests
 * re-add peer ids; pd never reuses them). A stale candidate that is not a member of the tombstone's newer
 * region is told to destroy itself, so a removed peer cut off from the rest of its region does not
 * campaign forever.
 */
function tombstoneRefusal(
  context: StoreContext,
  tombstone: Tombstone,
  envelope: raft_serverpb.RaftMessage,
  message: Message,
): DropReason {
  const senderEpoch = envelope.regionEpoch ?? NO_EPOCH;
  const tombstoneEpoch = epochOf(tombstone.region);
  const removedSender =
    isFirstVote(message) &&
    isEpochStale(senderEpoch, tombstoneEpoch) &&
    findPeer(tombstone.region, envelope.fromPeer!.id) === undefined;
  if (removedSender) {
    const destroyed = metapb.Peer.fromPartial({ id: tombstone.peerId, storeId: context.storeId });
    sendGcMessage(context, destroyed, tombstone.region, envelope);
    return "tombstone_stale_sender";
  }
  if (senderEpoch.confVer <= tombstoneEpoch.confVer) return "tombstone";
  if (envelope.toPeer!.id < tombstone.peerId) return "tombstone";
  return undefined;
}

/**
 * Builds an uninitialized peer, keeping any hard state an earlier incarnation left (its votes count): reads
 * that state in the background, then registers the peer in a turn. The region stays busy (its messages
 * are dropped; raft resends) until then.
 */
async function createPeer(
  context: StoreContext,
  envelope: raft_serverpb.RaftMessage,
  message: Message,
): Promise<void> {
  const regionId = envelope.regionId;
  let previous: RaftState | undefined;
  let failure: unknown;
  try {
    previous = await context.engines.raftLogStore.raftState(regionId);
  } catch (error) {
    failure = error;
  }
  await context.loop.runInTurn(`register peer of region ${regionId}`, (turn) => {
    context.meta.clearBusy(turn, regionId);
    if (failure === undefined) registerCreatedPeer(context, turn, envelope, message, previous);
  });
  // The scope logs and counts it; raft resends the first message, which tries again.
  if (failure !== undefined) throw failure;
}

function registerCreatedPeer(
  context: StoreContext,
  turn: Turn,
  envelope: raft_serverpb.RaftMessage,
  message: Message,
  previous: RaftState | undefined,
): void {
  const regionId = envelope.regionId;
  if (context.meta.peer(regionId) !== undefined) return;
  const hardState = previous?.hardState ?? { term: 0, vote: NONE, commit: 0 };
  const peer = new Peer(
    {
      region: {
        id: regionId,
        startKey: new Uint8Array(0),
        endKey: new Uint8Array(0),
        regionEpoch: NO_EPOCH,
        peers: [],
      },
      meta: envelope.toPeer!,
      initialized: false,
      // An empty log: whatever an earlier incarnation committed is not here any more.
      raftState: { hardState: { ...hardState, commit: 0 }, lastIndex: 0 },
      entries: [],
      appliedIndex: 0,
      truncatedIndex: 0,
      truncatedTerm: 0,
    },
    context,
    turn.nowMs,
  );
  context.meta.addPeer(turn, peer);
  context.metrics.peersCreated.inc();
  context.metrics.regions.set(context.meta.peerCount);
  peer.mailbox.push({ kind: "raft", message, envelope });
  context.wake(peer);
}

/** Marks the peer for destruction at the end of the turn (which serializes it with every other write). */
export function requestDestroy(context: StoreContext, turn: Turn, peer: Peer, reason: string): void {
  if (peer.requestDestroy(turn, reason)) context.wake(peer);
}

/**
 * Destroys the peer: stops it at once (no message or request reaches it any more), then writes the
 * tombstone with its data cleared, then deletes its raft log and state. Run by the store loop at the end
 * of a turn.
 */
export async function destroyPeer(context: StoreContext, turn: Turn, peer: Peer): Promise<void> {
  const { meta, engines } = context;
  const lifecycle = peer.lifecycle;
  if (lifecycle.kind !== "pending-destroy") {
    throw new PeerLifecycleError(`region ${peer.regionId}: destroyed while ${lifecycle.kind}`);
  }
  const { reason, initialized } = lifecycle;
  const regionId = peer.regionId;
  const tombstone = tombstoneRegion(peer);
  dropPeerSnapshots(context, turn, peer);
  peer.markDestroyed(turn, reason);
  meta.removePeer(turn, peer);
  meta.markBusy(turn, regionId);
  if (initialized) meta.setTombstone(turn, regionId, { region: tombstone, peerId: peer.meta.id });
  failEverything(context, turn, peer);
  try {
    if (initialized) {
      const batch = new WriteBatch();
      putRegionState(batch, regionId, { state: raft_serverpb.PeerState.TOMBSTONE, region: tombstone });
      clearRange(batch, peer.region);
      deleteApplyState(batch, regionId);
      await engines.kvEngine.write(batch, { sync: true });
    }
    const raftBatch = new WriteBatch();
    engines.raftLogStore.destroyRegion(raftBatch, regionId);
    await engines.raftLogStore.engine.write(raftBatch, { sync: false });
  } finally {
    meta.clearBusy(turn, regionId);
  }
  context.metrics.peersDestroyed.inc({ reason: destroyReasonLabel(reason) });
  context.metrics.regions.set(meta.peerCount);
  context.logger.info({ regionId, peerId: peer.meta.id, reason }, "peer destroyed");
  context.regionChanged(regionId);
}

/**
 * The region a tombstone records: as the peer last knew it, with the destroyed peer in its peer list even
 * when its own removal already took it out, so a restarted store still knows which peer id it destroyed
 * (RegionLocalState has no other place for it) and keeps refusing messages for older peers.
 */
function tombstoneRegion(peer: Peer): metapb.Region {
  if (findPeer(peer.region, peer.meta.id) !== undefined) return peer.region;
  const region = cloneRegion(peer.region);
  return { ...region, peers: [...region.peers, peer.meta] };
}

function destroyReasonLabel(reason: string): string {
  if (reason.startsWith("removed")) return "removed";
  if (reason.startsWith("replaced")) return "replaced";
  if (reason.startsWith("pd")) return "pd";
  return "gc";
}

function failEverything(context: StoreContext, turn: Turn, peer: Peer): void {
  const error = (): Error => new RegionNotFoundError(peer.regionId);
  peer.failProposals(error);
  peer.reads.failAll(error);
  drainGonePeer(context, turn, peer);
}

/**
 * Empties the mailbox of a peer that is gone or going: client work fails with RegionNotFound, and reports
 * of background work that still holds resources (a generated snapshot's view, a send that kept one
 * pinned) release them. Reports keep arriving after the peer went (a send or generation in flight), so
 * the loop drains a gone peer's mailbox whenever it is woken.
 */
export function drainGonePeer(context: StoreContext, turn: Turn, peer: Peer): void {
  const error = (): Error => new RegionNotFoundError(peer.regionId);
  for (const task of peer.mailbox.takeAll()) {
    switch (task.kind) {
      case "command":
        task.command.proposal.fail(error());
        break;
      case "read-index":
        task.read.fail(error());
        break;
      case "snapshot-generated":
        if (task.generated !== undefined) releaseGenerated(context, task.generated);
        break;
      case "snapshot-status":
        onSnapshotSent(context, turn, peer, task);
        break;
      default:
        break;
    }
  }
}

/**
 * A follower that has not heard from a leader for a long time may have been removed while cut off; it
 * asks pd in a background job, which asks for the peer's destruction when pd's newer membership no longer
 * includes it.
 */
export function checkStalePeer(context: StoreContext, turn: Turn, peer: Peer): void {
  if (peer.isLeader) {
    peer.sawLeader(turn, turn.nowMs);
    return;
  }
  if (peer.hasJob("stale-check") || turn.nowMs - peer.lastLeaderSeenMs < context.config.maxLeaderMissingMs)
    return;
  if (!peer.startJob(turn, "stale-check")) return;
  peer.sawLeader(turn, turn.nowMs);
  const known = peer.region;
  const spawned = context.scope.spawn(`stale check of region ${peer.regionId}`, async () => {
    try {
      const region = (await context.pd.getRegionById(peer.regionId))?.region;
      const removed =
        region !== undefined &&
        findPeer(region, peer.meta.id) === undefined &&
        epochOf(region).confVer > epochOf(known).confVer;
      if (removed) peer.mailbox.push({ kind: "destroy", reason: "pd says it was removed" });
    } catch (error) {
      context.logger.warn({ regionId: peer.regionId, err: error }, "stale peer check with pd failed");
    } finally {
      peer.mailbox.push({ kind: "job-done", job: "stale-check" });
      context.wake(peer);
    }
  });
  if (!spawned) peer.finishJob(turn, "stale-check");
}
