/**
 * Test-only: the transactional RPCs of a gRPC StoreCluster, routed by key to the region's current leader
 * (as the harness sees it) with region errors retried until a deadline — a minimal client, so cluster tests
 * exercise exactly what the stores answer without the transaction client in between.
 */
import type { ServiceError } from "@grpc/grpc-js";
import { compareBytes } from "#codec";
import { type errorpb, kvrpcpb, type tikvpb } from "#proto";
import { sleep } from "#runtime";
import type { StoreCluster } from "./cluster/store-cluster.ts";
import { StoreClients } from "./raw-rpc.ts";

const RETRY_PAUSE_MS = 50;
const DEFAULT_DEADLINE_MS = 30_000;

type Send<Response> = (
  client: tikvpb.TikvClient,
  context: kvrpcpb.Context,
  done: (error: ServiceError | null, response: Response) => void,
) => void;

export class TxnRpc {
  private readonly clients = new StoreClients();

  constructor(private readonly cluster: StoreCluster) {}

  /** Sends to the leader of `key`'s region until an answer comes without a region error. */
  async call<Response extends { regionError?: errorpb.Error | undefined }>(
    key: Uint8Array,
    send: Send<Response>,
    deadlineMs = DEFAULT_DEADLINE_MS,
  ): Promise<Response> {
    const deadline = Date.now() + deadlineMs;
    let lastProblem = "";
    for (;;) {
      const leader = this.cluster.leaderOf(key);
      if (leader !== undefined && this.cluster.isRunning(leader.index)) {
        const context = kvrpcpb.Context.fromPartial({
          regionId: leader.region.id,
          regionEpoch: leader.region.regionEpoch,
          peer: leader.peer,
        });
        try {
          const client = this.clients.for(this.cluster.server(leader.index).address);
          const response = await new Promise<Response>((resolve, reject) =>
            send(client, context, (error, answer) => (error ? reject(error) : resolve(answer))),
          );
          if (response.regionError === undefined) return response;
          lastProblem = response.regionError.message;
        } catch (error) {
          lastProblem = String(error);
        }
      } else {
        lastProblem = "no leader";
      }
      if (Date.now() > deadline)
        throw new Error(`txn request for ${Buffer.from(key)} kept failing: ${lastProblem}`);
      await sleep(RETRY_PAUSE_MS);
    }
  }

  /** One request to the leader of `key`'s region as the harness sees it now, without retries. */
  async callOnce<Response>(key: Uint8Array, send: Send<Response>): Promise<Response> {
    const leader = this.cluster.route(key);
    const context = kvrpcpb.Context.fromPartial({
      regionId: leader.region.id,
      regionEpoch: leader.region.regionEpoch,
      peer: leader.peer,
    });
    const client = this.clients.for(this.cluster.server(leader.index).address);
    return new Promise<Response>((resolve, reject) =>
      send(client, context, (error, answer) => (error ? reject(error) : resolve(answer))),
    );
  }

  /** The key's lock and versions as its region's leader stores them. */
  mvcc(key: Uint8Array): Promise<kvrpcpb.MvccGetByKeyResponse> {
    return this.call<kvrpcpb.MvccGetByKeyResponse>(key, (client, context, done) =>
      client.mvccGetByKey({ context, key }, done),
    );
  }

  /** Groups keys by their region now, so a batch request goes to each region once. */
  byRegion<T extends { readonly key: Uint8Array }>(items: readonly T[]): T[][] {
    const groups = new Map<bigint, T[]>();
    for (const item of items) {
      const region = this.cluster.regionFor(item.key);
      const id = region?.id ?? 0n;
      groups.set(id, [...(groups.get(id) ?? []), item]);
    }
    return [...groups.values()];
  }

  async prewrite(
    mutations: readonly kvrpcpb.Mutation[],
    primary: Uint8Array,
    startTs: bigint,
    extra: Partial<kvrpcpb.PrewriteRequest> = {},
  ): Promise<kvrpcpb.KeyError[]> {
    const errors: kvrpcpb.KeyError[] = [];
    for (const group of this.byRegion(mutations)) {
      const response = await this.call<kvrpcpb.PrewriteResponse>(group[0]!.key, (client, context, done) =>
        client.kvPrewrite(
          kvrpcpb.PrewriteRequest.fromPartial({
            context,
            mutations: group,
            primaryLock: primary,
            startTs,
            lockTtlMs: 3000n,
            ...extra,
          }),
          done,
        ),
      );
      errors.push(...response.errors);
    }
    return errors;
  }

  async commit(
    keys: readonly Uint8Array[],
    startTs: bigint,
    commitTs: bigint,
  ): Promise<kvrpcpb.KeyError | undefined> {
    for (const group of this.byRegion(keys.map((key) => ({ key })))) {
      const response = await this.call<kvrpcpb.CommitResponse>(group[0]!.key, (client, context, done) =>
        client.kvCommit({ context, keys: group.map(({ key }) => key), startTs, commitTs }, done),
      );
      if (response.error !== undefined) return response.error;
    }
    return undefined;
  }

  async get(key: Uint8Array, readTs: bigint): Promise<kvrpcpb.GetResponse> {
    return this.call<kvrpcpb.GetResponse>(key, (client, context, done) =>
      client.kvGet(kvrpcpb.GetRequest.fromPartial({ context, key, readTs }), done),
    );
  }

  async scanLocks(key: Uint8Array, maxTs: bigint): Promise<kvrpcpb.LockInfo[]> {
    const response = await this.call<kvrpcpb.ScanLockResponse>(key, (client, context, done) =>
      client.kvScanLock(kvrpcpb.ScanLockRequest.fromPartial({ context, maxTs, startKey: key }), done),
    );
    return response.locks.filter((lock) => compareBytes(lock.key, key) === 0);
  }

  pessimisticLock(
    keys: readonly Uint8Array[],
    primary: Uint8Array,
    startTs: bigint,
    forUpdateTs: bigint,
    extra: Partial<kvrpcpb.PessimisticLockRequest> = {},
  ): Promise<kvrpcpb.PessimisticLockResponse> {
    return this.call<kvrpcpb.PessimisticLockResponse>(keys[0]!, (client, context, done) =>
      client.kvPessimisticLock(
        kvrpcpb.PessimisticLockRequest.fromPartial({
          context,
          mutations: keys.map((key) => ({ op: kvrpcpb.Op.PESSIMISTIC_LOCK, key })),
          primaryLock: primary,
          startTs,
          forUpdateTs,
          lockTtlMs: 10_000n,
          ...extra,
        }),
        done,
      ),
    );
  }

  close(): void {
    this.clients.close();
  }
}
