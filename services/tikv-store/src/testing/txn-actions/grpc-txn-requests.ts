/**
 * TxnRequests over a real store's transactional RPCs (a gRPC StoreCluster, through TxnRpc: routed to the
 * region's leader, region errors retried), so the scheduler's latches, leader reads, raft proposals,
 * memory locks, max_ts and lock waiting all stand between the model-based test's clients and the actions.
 *
 * The cluster must keep one region over the whole key space: a scan or a batch is then one request, as in
 * the pure harness, and a 1PC prewrite holds every key of its transaction (a client would split both by
 * region and fall back to 2PC across regions; that is the transaction client's job, not the store's).
 */
import { kvrpcpb } from "#proto";
import type { KeyError } from "../../mvcc/key-error.ts";
import type { ReadOptions } from "../../mvcc/snapshot-reader.ts";
import type { SecondaryLocksStatus } from "../../txn/actions/check-secondary-locks.ts";
import type { CheckTxnStatusParams, TxnStatus } from "../../txn/actions/check-txn-status.ts";
import type { PessimisticLockResult } from "../../txn/actions/pessimistic-lock.ts";
import type { PrewriteResult } from "../../txn/actions/prewrite.ts";
import type { StoreCluster } from "../cluster/store-cluster.ts";
import type { TxnRpc } from "../txn-rpc.ts";
import {
  keyErrorFromProto,
  lockFromProto,
  txnStatusFromProto,
  UnexpectedAnswerError,
} from "./proto-records.ts";
import type {
  HeartBeatResult,
  KeyRange,
  PessimisticLockRequest,
  PointRead,
  PrewriteRequest,
  RangeRead,
  ScanRange,
  TxnRequests,
} from "./txn-requests.ts";

export interface GrpcTxnRequestsOptions {
  /** How long a PessimisticLock waits in the store for a conflicting lock to go (negative: not at all). */
  readonly lockWaitMs: number;
}

const MUTATION_OP = { put: kvrpcpb.Op.PUT, delete: kvrpcpb.Op.DEL } as const;
const UINT64_MAX = (1n << 64n) - 1n;
const optionalKeyError = (error: kvrpcpb.KeyError | undefined) =>
  error === undefined ? undefined : keyErrorFromProto(error);

export class GrpcTxnRequests implements TxnRequests {
  constructor(
    cluster: StoreCluster,
    private readonly rpc: TxnRpc,
    private readonly options: GrpcTxnRequestsOptions,
  ) {
    const region = cluster.regionFor(new Uint8Array(0));
    if (region === undefined || region.endKey.length > 0) {
      throw new RangeError("GrpcTxnRequests needs one region over the whole key space");
    }
  }

  async get(key: Uint8Array, read: ReadOptions): Promise<PointRead> {
    const response = await this.rpc.call<kvrpcpb.GetResponse>(key, (client, context, done) =>
      client.kvGet(
        kvrpcpb.GetRequest.fromPartial({ context: readContext(context, read), key, readTs: read.readTs }),
        done,
      ),
    );
    if (response.error !== undefined) return { error: keyErrorFromProto(response.error) };
    return { value: response.notFound ? undefined : response.value };
  }

  async scan(range: ScanRange, read: ReadOptions): Promise<RangeRead> {
    // kvrpcpb's reverse scan runs from its start key (exclusive upper bound) down to its end key.
    const [startKey, endKey] = range.reverse
      ? [range.endKey, range.startKey]
      : [range.startKey, range.endKey];
    const response = await this.rpc.call<kvrpcpb.ScanResponse>(startKey, (client, context, done) =>
      client.kvScan(
        kvrpcpb.ScanRequest.fromPartial({
          context: readContext(context, read),
          readTs: read.readTs,
          startKey,
          endKey,
          reverse: range.reverse,
          limit: range.limit,
        }),
        done,
      ),
    );
    const error = response.error ?? response.pairs.find((pair) => pair.error !== undefined)?.error;
    if (error !== undefined) return { error: keyErrorFromProto(error) };
    return { pairs: response.pairs.map(({ key, value }) => ({ key, value })) };
  }

  async prewrite(request: PrewriteRequest): Promise<PrewriteResult> {
    const { mutations, primary, isPessimisticLock, secondaries, ...fields } = request;
    const protoMutations = mutations.map((mutation) => {
      if (mutation.op !== "put" && mutation.op !== "delete") {
        throw new RangeError(`the workload never prewrites op ${mutation.op}`);
      }
      return { op: MUTATION_OP[mutation.op], key: mutation.key, value: mutation.value };
    });
    const response = await this.rpc.call<kvrpcpb.PrewriteResponse>(
      mutations[0]!.key,
      (client, context, done) =>
        client.kvPrewrite(
          kvrpcpb.PrewriteRequest.fromPartial({
            ...fields,
            context,
            mutations: protoMutations,
            primaryLock: primary,
            isPessimisticLock: [...isPessimisticLock],
            secondaries: [...secondaries],
          }),
          done,
        ),
    );
    return {
      errors: response.errors.map(keyErrorFromProto),
      minCommitTs: response.minCommitTs,
      onePcCommitTs: response.onePcCommitTs,
    };
  }

  async commit(
    keys: readonly Uint8Array[],
    startTs: bigint,
    commitTs: bigint,
  ): Promise<KeyError | undefined> {
    const response = await this.rpc.call<kvrpcpb.CommitResponse>(keys[0]!, (client, context, done) =>
      client.kvCommit({ context, keys: [...keys], startTs, commitTs }, done),
    );
    return optionalKeyError(response.error);
  }

  async batchRollback(keys: readonly Uint8Array[], startTs: bigint): Promise<KeyError | undefined> {
    const response = await this.rpc.call<kvrpcpb.BatchRollbackResponse>(keys[0]!, (client, context, done) =>
      client.kvBatchRollback({ context, keys: [...keys], startTs }, done),
    );
    return optionalKeyError(response.error);
  }

  async pessimisticLock(request: PessimisticLockRequest): Promise<PessimisticLockResult> {
    const response = await this.rpc.call<kvrpcpb.PessimisticLockResponse>(
      request.keys[0]!.key,
      (client, context, done) =>
        client.kvPessimisticLock(
          kvrpcpb.PessimisticLockRequest.fromPartial({
            context,
            mutations: request.keys.map(({ key, shouldNotExist }) => ({
              op: shouldNotExist ? kvrpcpb.Op.CHECK_NOT_EXISTS : kvrpcpb.Op.PESSIMISTIC_LOCK,
              key,
            })),
            primaryLock: request.primary,
            startTs: request.startTs,
            forUpdateTs: request.forUpdateTs,
            lockTtlMs: request.lockTtlMs,
            minCommitTs: request.minCommitTs,
            returnValues: request.returnValues,
            isFirstLock: request.isFirstLock,
            waitTimeoutMs: BigInt(this.options.lockWaitMs),
          }),
          done,
        ),
    );
    const [error] = response.errors;
    if (error !== undefined) return { kind: "error", error: keyErrorFromProto(error) };
    return {
      kind: "locked-all",
      values: response.values.map((value, index) => (response.notFounds[index] ? undefined : value)),
    };
  }

  async pessimisticRollback(
    keys: readonly Uint8Array[],
    startTs: bigint,
    forUpdateTs: bigint,
  ): Promise<void> {
    const response = await this.rpc.call<kvrpcpb.PessimisticRollbackResponse>(
      keys[0]!,
      (client, context, done) =>
        client.kvPessimisticRollback({ context, keys: [...keys], startTs, forUpdateTs }, done),
    );
    const [error] = response.errors;
    if (error !== undefined)
      throw new UnexpectedAnswerError(`pessimistic rollback failed: ${keyErrorFromProto(error).kind}`);
  }

  async txnHeartBeat(primary: Uint8Array, startTs: bigint, adviseTtlMs: bigint): Promise<HeartBeatResult> {
    const response = await this.rpc.call<kvrpcpb.TxnHeartBeatResponse>(primary, (client, context, done) =>
      client.kvTxnHeartBeat({ context, primaryLock: primary, startTs, adviseLockTtlMs: adviseTtlMs }, done),
    );
    if (response.error !== undefined) return { error: keyErrorFromProto(response.error) };
    return { ttlMs: response.lockTtlMs };
  }

  async checkTxnStatus(params: CheckTxnStatusParams): Promise<TxnStatus> {
    const response = await this.rpc.call<kvrpcpb.CheckTxnStatusResponse>(
      params.primary,
      (client, context, done) =>
        client.kvCheckTxnStatus(
          {
            context,
            primaryKey: params.primary,
            lockTs: params.lockTs,
            callerStartTs: params.callerStartTs,
            currentTs: params.currentTs,
            rollbackIfNotExist: params.rollbackIfNotExist,
            resolvingPessimisticLock: params.resolvingPessimisticLock,
            forceSyncCommit: params.forceSyncCommit,
          },
          done,
        ),
    );
    return txnStatusFromProto(response);
  }

  async checkSecondaryLocks(keys: readonly Uint8Array[], startTs: bigint): Promise<SecondaryLocksStatus> {
    // A one-key async-commit transaction has no secondaries: all of them are locked, vacuously. The store
    // refuses an empty batch.
    if (keys.length === 0) return { kind: "locked", locks: [] };
    const response = await this.rpc.call<kvrpcpb.CheckSecondaryLocksResponse>(
      keys[0]!,
      (client, context, done) => client.kvCheckSecondaryLocks({ context, keys: [...keys], startTs }, done),
    );
    if (response.error !== undefined) {
      throw new UnexpectedAnswerError(
        `CheckSecondaryLocks failed: ${keyErrorFromProto(response.error).kind}`,
      );
    }
    if (response.commitTs > 0n) return { kind: "committed", commitTs: response.commitTs };
    if (response.locks.length === 0) return { kind: "rolled-back" };
    // The transaction is still undecided only while every key holds its lock.
    if (response.locks.length !== keys.length) {
      throw new UnexpectedAnswerError(
        `CheckSecondaryLocks answered ${response.locks.length} locks for ${keys.length} keys`,
      );
    }
    return {
      kind: "locked",
      locks: response.locks.map((info) => ({ key: info.key, lock: lockFromProto(info) })),
    };
  }

  async commitLocks(
    keys: readonly Uint8Array[],
    startTs: bigint,
    commitTs: bigint,
  ): Promise<KeyError | undefined> {
    const response = await this.rpc.call<kvrpcpb.ResolveLockResponse>(keys[0]!, (client, context, done) =>
      client.kvResolveLock(
        kvrpcpb.ResolveLockRequest.fromPartial({ context, startTs, commitTs, keys: [...keys] }),
        done,
      ),
    );
    return optionalKeyError(response.error);
  }

  async scanLocks({ startKey, endKey }: KeyRange) {
    const response = await this.rpc.call<kvrpcpb.ScanLockResponse>(startKey, (client, context, done) =>
      client.kvScanLock(
        kvrpcpb.ScanLockRequest.fromPartial({ context, maxTs: UINT64_MAX, startKey, endKey }),
        done,
      ),
    );
    if (response.error !== undefined)
      throw new UnexpectedAnswerError(`ScanLock failed: ${keyErrorFromProto(response.error).kind}`);
    return response.locks.map((info) => ({ key: info.key, lock: lockFromProto(info) }));
  }
}

function readContext(context: kvrpcpb.Context, read: ReadOptions): kvrpcpb.Context {
  return { ...context, resolvedLocks: [...read.resolvedLocks] };
}
