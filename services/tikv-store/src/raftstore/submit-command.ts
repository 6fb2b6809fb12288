/**
 * Turns a checked request into a queued proposal: builds the RaftCmdRequest against the peer's current
 * region, refuses it up front when it is too large or the store's queues are full, and resolves once the
 * entry applied (or rejects with the reason it did not).
 */
import type { metapb, raft_cmdpb } from "#proto";
import type { Peer } from "./peer.ts";
import { type CommandOutcome, Proposal } from "./proposal.ts";
import {
  changePeerConfChange,
  changePeerRequest,
  commandHeader,
  encodeCommand,
  type PeerChange,
} from "./raft-command.ts";
import type { EpochCheck } from "./region-epoch.ts";
import { RaftEntryTooLargeError, ServerIsBusyError } from "./region-errors.ts";
import { epochOf } from "./region-meta.ts";
import type { StoreContext } from "./store-context.ts";

export type CommandBody =
  | { readonly kind: "write"; readonly requests: raft_cmdpb.Request[] }
  | { readonly kind: "admin"; readonly admin: raft_cmdpb.AdminRequest }
  | { readonly kind: "change-peer"; readonly change: PeerChange };

/**
 * `region` is the region the command was computed against (by default the peer's current one); its epoch
 * goes into the command, so a command computed against an older region is refused. `term`, when given, is
 * the term the command was computed in; it is refused if the leader moved on to another.
 */
export function submitCommand(
  context: StoreContext,
  peer: Peer,
  body: CommandBody,
  epochCheck: EpochCheck,
  region: metapb.Region = peer.region,
  term?: number,
): Promise<raft_cmdpb.RaftCmdResponse> {
  const { config, metrics } = context;
  // A proposal queued now would wait for a turn that never comes (and keep its caller waiting).
  if (context.loop.isStopped()) {
    return Promise.reject(new ServerIsBusyError("the store is not running", config.busyBackoffMs));
  }
  if (context.pendingProposals >= config.maxPendingProposals) {
    metrics.proposalsDropped.inc({ reason: "busy" });
    return Promise.reject(
      new ServerIsBusyError(
        `${context.pendingProposals} proposals pending on the store`,
        config.busyBackoffMs,
      ),
    );
  }
  const proposalId = context.nextProposalId();
  const header = commandHeader({ region, peer: peer.meta, term: peer.term, proposalId });
  const command = commandOf(header, body);
  const encoded = encodeCommand(command);
  if (encoded.byteLength > config.raftEntryMaxSizeBytes) {
    metrics.proposalsDropped.inc({ reason: "too_large" });
    return Promise.reject(
      new RaftEntryTooLargeError(peer.regionId, encoded.byteLength, config.raftEntryMaxSizeBytes),
    );
  }
  return new Promise((resolve, reject) => {
    context.pendingProposals++;
    const proposal = new Proposal(proposalId, (outcome: CommandOutcome) => {
      context.pendingProposals--;
      if (outcome.ok) resolve(outcome.response);
      else reject(outcome.error);
    });
    const confChange = body.kind === "change-peer" ? changePeerConfChange(body.change, encoded) : undefined;
    const queued = peer.mailbox.offer({
      kind: "command",
      command: { proposal, data: encoded, confChange, epoch: epochOf(region), epochCheck, term },
    });
    if (!queued) {
      metrics.proposalsDropped.inc({ reason: "busy" });
      proposal.fail(new ServerIsBusyError(`region ${peer.regionId} mailbox is full`, config.busyBackoffMs));
      return;
    }
    context.wake(peer);
  });
}

function commandOf(header: raft_cmdpb.RaftRequestHeader, body: CommandBody): raft_cmdpb.RaftCmdRequest {
  switch (body.kind) {
    case "write":
      return { header, requests: body.requests, adminRequest: undefined };
    case "admin":
      return { header, requests: [], adminRequest: body.admin };
    case "change-peer":
      return { header, requests: [], adminRequest: changePeerRequest(body.change) };
    default:
      return body satisfies never;
  }
}
