/**
 * The part of the raftstore's `Store` facade the gRPC handlers use, as an interface: the handlers depend
 * on this narrow surface (in the raftstore's own request types), so unit tests serve requests from a stub
 * and the raftstore can change everything behind it.
 */
import type { kvrpcpb, metapb, raft_serverpb } from "#proto";
import type { CasRequest, CasResult, RawMutation } from "../raftstore/raft-command.ts";
import type { RegionReader } from "../raftstore/read-path.ts";
import type { KeyCheck } from "../raftstore/request-check.ts";

export type { CasRequest, CasResult, KeyCheck, RawMutation, RegionReader };

export interface ServedStore {
  readonly storeId: bigint;
  write(context: kvrpcpb.Context, mutations: readonly RawMutation[]): Promise<void>;
  compareAndSwap(context: kvrpcpb.Context, request: CasRequest): Promise<CasResult>;
  read<T>(
    context: kvrpcpb.Context,
    check: KeyCheck,
    readFn: (reader: RegionReader) => Promise<T>,
  ): Promise<T>;
  splitRegion(regionId: bigint, splitKeys: readonly Uint8Array[]): Promise<metapb.Region[]>;
  onRaftMessages(messages: readonly raft_serverpb.RaftMessage[]): void;
}
