/**
 * One unary RPC to a region's leader, the way an operator tool needs it: the leader as pd reports it, the
 * store's address from pd, and a bounded number of attempts. A region error (NotLeader, EpochNotMatch,
 * RegionNotFound, …), an unreachable store or a region without a known leader makes the next attempt ask pd
 * again after a backoff, since the leader may have moved or the region split; a NotLeader naming another
 * leader is tried at once. Unary calls rather than the BatchCommands stream, because MvccGetByKey is only
 * served unary, and a person waits on one call at a time.
 */
import { type CallOptions, credentials, type ServiceError, status } from "@grpc/grpc-js";
import { type PdClient, RegionRequestError } from "#client";
import { regionErrorFromProto } from "#kv-errors";
import { type errorpb, kvrpcpb, type metapb, tikvpb } from "#proto";
import { sleep } from "#runtime";
import {
  NoLeaderError,
  RegionUnavailableError,
  StoreCallError,
  StoreNotFoundError,
  StoreUnreachableError,
} from "./txn-errors.ts";

/** A region and the leader to ask, as pd reported it (a PdRegion) or as a store last answered for it. */
export interface RegionTarget {
  readonly region: metapb.Region;
  readonly leader?: metapb.Peer | undefined;
}

/** Where an answer came from. */
export interface LeaderRoute {
  readonly region: metapb.Region;
  readonly leader: metapb.Peer;
  readonly storeId: bigint;
  readonly address: string;
}

/** What a call sends on: the store's client and the context addressing the leader of `region`. */
export interface StoreCallTarget {
  readonly client: tikvpb.TikvClient;
  readonly context: kvrpcpb.Context;
  readonly region: metapb.Region;
}

/** Starts one unary call with `options` (they carry the deadline), answering through `done`. */
export type StoreCall<Response> = (
  target: StoreCallTarget,
  options: CallOptions,
  done: (error: ServiceError | null, response: Response) => void,
) => void;

/** Every region-scoped response carries the region error field. */
interface RegionResponse {
  readonly regionError?: errorpb.Error | undefined;
}

export interface RegionLeaderRpcOptions {
  /** Resolves store ids to addresses. */
  readonly pd: Pick<PdClient, "getStore">;
  /** Deadline of each attempt [5000 ms]. */
  readonly requestTimeoutMs?: number;
  /** Attempts per call, the first included [8]. */
  readonly maxAttempts?: number;
  /** Backoff before the second attempt, doubling up to backoffCapMs [50 ms]. */
  readonly backoffBaseMs?: number;
  /** [1000 ms]: the default attempts then span about 3.5 s, long enough for pd to learn a new leader. */
  readonly backoffCapMs?: number;
}

/** A region's leader may answer with up to every lock or version it holds in one message. */
const MAX_RECEIVE_MESSAGE_BYTES = 128 * 1024 * 1024;

type Attempt<Response> =
  | { readonly kind: "answered"; readonly response: Response; readonly route: LeaderRoute }
  | { readonly kind: "failed"; readonly problem: Error; readonly leaderHint?: metapb.Peer };

export class RegionLeaderRpc {
  private readonly pd: Pick<PdClient, "getStore">;
  private readonly requestTimeoutMs: number;
  private readonly maxAttempts: number;
  private readonly backoffBaseMs: number;
  private readonly backoffCapMs: number;
  private readonly addresses = new Map<bigint, string>();
  private readonly clients = new Map<string, tikvpb.TikvClient>();

  constructor(options: RegionLeaderRpcOptions) {
    this.pd = options.pd;
    this.requestTimeoutMs = options.requestTimeoutMs ?? 5_000;
    this.maxAttempts = options.maxAttempts ?? 8;
    this.backoffBaseMs = options.backoffBaseMs ?? 50;
    this.backoffCapMs = options.backoffCapMs ?? 1_000;
    if (!Number.isInteger(this.maxAttempts) || this.maxAttempts < 1) {
      throw new RangeError(`maxAttempts must be a positive integer, got ${this.maxAttempts}`);
    }
  }

  /**
   * Sends `send` to the leader of `target`'s region until it answers without a region error; every retry
   * but one following a leader hint first waits and takes the region afresh from `relocate` (pd). Throws
   * RegionUnavailableError when the attempts run out, and the errors of txn-errors.ts otherwise.
   */
  async call<Response extends RegionResponse>(
    method: string,
    target: RegionTarget,
    relocate: () => Promise<RegionTarget>,
    send: StoreCall<Response>,
  ): Promise<{ readonly response: Response; readonly route: LeaderRoute }> {
    let current = target;
    let leaderHint: metapb.Peer | undefined;
    let lastProblem: Error | undefined;
    for (let attempt = 1; attempt <= this.maxAttempts; attempt++) {
      if (attempt > 1 && leaderHint === undefined) {
        await sleep(this.backoffMs(attempt));
        current = await relocate();
      }
      const leader = leaderHint ?? current.leader;
      if (leader === undefined) {
        lastProblem = new NoLeaderError(current.region.id);
        continue;
      }
      const outcome = await this.attempt(method, current.region, leader, send);
      if (outcome.kind === "answered") return outcome;
      lastProblem = outcome.problem;
      leaderHint = outcome.leaderHint;
    }
    throw new RegionUnavailableError(current.region.id, this.maxAttempts, lastProblem!);
  }

  /** Closes every store channel; calls must have ended (each is awaited by its caller). */
  close(): void {
    for (const client of this.clients.values()) client.close();
    this.clients.clear();
  }

  private async attempt<Response extends RegionResponse>(
    method: string,
    region: metapb.Region,
    leader: metapb.Peer,
    send: StoreCall<Response>,
  ): Promise<Attempt<Response>> {
    const address = await this.storeAddress(leader.storeId, region.id);
    const context = kvrpcpb.Context.fromPartial({
      regionId: region.id,
      regionEpoch: region.regionEpoch,
      peer: leader,
    });
    let response: Response;
    try {
      response = await new Promise<Response>((resolve, reject) =>
        send(
          { client: this.client(address), context, region },
          { deadline: Date.now() + this.requestTimeoutMs },
          (error, answer) => (error === null ? resolve(answer) : reject(error)),
        ),
      );
    } catch (error) {
      if (!isServiceError(error)) throw error;
      if (error.code !== status.UNAVAILABLE && error.code !== status.DEADLINE_EXCEEDED) {
        throw new StoreCallError(leader.storeId, address, method, error);
      }
      // The store may have restarted elsewhere: ask pd for its address again next time.
      this.addresses.delete(leader.storeId);
      return { kind: "failed", problem: new StoreUnreachableError(leader.storeId, address, error.message) };
    }
    const route = { region, leader, storeId: leader.storeId, address };
    if (response.regionError === undefined) return { kind: "answered", response, route };
    const detail = regionErrorFromProto(response.regionError);
    const problem = new RegionRequestError({
      regionId: region.id,
      storeId: leader.storeId,
      address,
      regionError: response.regionError,
    });
    // A hint naming the peer just asked would only repeat the same answer.
    const hint = detail?.kind === "notLeader" ? detail.leader : undefined;
    return hint === undefined || hint.id === leader.id
      ? { kind: "failed", problem }
      : { kind: "failed", problem, leaderHint: hint };
  }

  private async storeAddress(storeId: bigint, regionId: bigint): Promise<string> {
    const known = this.addresses.get(storeId);
    if (known !== undefined) return known;
    const store = await this.pd.getStore(storeId);
    if (store === undefined || store.store.address === "") throw new StoreNotFoundError(storeId, regionId);
    this.addresses.set(storeId, store.store.address);
    return store.store.address;
  }

  private client(address: string): tikvpb.TikvClient {
    let client = this.clients.get(address);
    if (client === undefined) {
      client = new tikvpb.TikvClient(address, credentials.createInsecure(), {
        "grpc.max_receive_message_length": MAX_RECEIVE_MESSAGE_BYTES,
      });
      this.clients.set(address, client);
    }
    return client;
  }

  private backoffMs(attempt: number): number {
    return Math.min(this.backoffCapMs, this.backoffBaseMs * 2 ** (attempt - 2));
  }
}

function isServiceError(error: unknown): error is ServiceError {
  return error instanceof Error && typeof (error as Partial<ServiceError>).code === "number";
}
