/**
 * TiKV's availability check on membership changes: a change may not leave the region with fewer healthy
 * voters than its quorum, or the region stops committing until a peer catches up or comes back. The case
 * that matters most: promoting a learner that has replicated nothing yet (in a one-voter region that is
 * an instant outage). pd's operators wait for a learner to catch up before promoting; this guards every
 * other caller, and removals that would leave only unhealthy voters.
 *
 * Healthy: the leader itself, or a voter whose acknowledged log reaches what the leader still holds (it
 * needs no snapshot) and that the leader heard from within an election timeout.
 */
import type { NodeId } from "#raft";
import type { Peer } from "./peer.ts";
import type { PeerChange } from "./raft-command.ts";
import { isLearner, peerIdToNode } from "./region-meta.ts";

export function unsafePeerChangeReason(
  peer: Peer,
  change: PeerChange,
  nowMs: number,
  electionTimeoutMs: number,
): string | undefined {
  if (change.type === "add-learner") return undefined;
  const voters = new Set<NodeId>();
  for (const member of peer.region.peers) if (!isLearner(member)) voters.add(peerIdToNode(member.id));
  const target = peerIdToNode(change.peer.id);
  if (change.type === "promote") voters.add(target);
  else voters.delete(target);

  const progress = peer.status().progress;
  const unhealthy: string[] = [];
  for (const node of voters) {
    if (node === peer.nodeId) continue;
    const match = progress?.get(node)?.match ?? 0;
    const heardMs = peer.lastHeardMs(node);
    if (match === 0 || match < peer.log.truncatedIndex)
      unhealthy.push(`peer ${node} has replicated too little (matched ${match})`);
    else if (nowMs - heardMs > electionTimeoutMs)
      unhealthy.push(`peer ${node} was not heard from for ${Math.round(nowMs - heardMs)} ms`);
  }
  const quorum = Math.floor(voters.size / 2) + 1;
  const healthy = voters.size - unhealthy.length;
  if (healthy >= quorum) return undefined;
  return `after it ${healthy} of ${voters.size} voters would be healthy, fewer than the quorum of ${quorum} (${unhealthy.join("; ")})`;
}
