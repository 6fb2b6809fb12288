/**
 * The store's `tikvpb.Tikv` gRPC service: raw key-value RPCs (raw-kv-handlers.ts), the same requests on
 * the BatchCommands stream (batch-commands.ts), an explicit SplitRegion, and store-to-store raft and
 * snapshot traffic (raft-receiver.ts, snapshot-stream.ts), and the transactional RPCs (txn-kv-handlers.ts).
 */
import { type ServerUnaryCall, type sendUnaryData, status } from "@grpc/grpc-js";
import type { Logger } from "#observability";
import type { kvrpcpb, tikvpb } from "#proto";
import { createBatchCommandsHandler } from "./batch-commands.ts";
import type { RaftReceiver } from "./raft-receiver.ts";
import type { RawKvHandlers } from "./raw-kv-handlers.ts";
import { describeFailure, toRegionErrorProto } from "./region-errors.ts";
import {
  checkContext,
  checkSplitKeys,
  InvalidRequestError,
  type RequestLimits,
} from "./request-validation.ts";
import type { ServedStore } from "./served-store.ts";
import type { GrpcMetrics } from "./server-metrics.ts";
import type { TxnKvHandlers } from "./txn-kv-handlers.ts";

export interface TikvServiceOptions {
  readonly store: ServedStore;
  readonly handlers: RawKvHandlers;
  readonly txnHandlers: TxnKvHandlers;
  readonly limits: RequestLimits;
  readonly batchCommandsMaxInFlight: number;
  readonly raftReceiver: RaftReceiver;
  readonly snapshot: tikvpb.TikvServer["snapshot"];
  readonly metrics: GrpcMetrics;
  readonly logger: Logger;
}

export function createTikvService(options: TikvServiceOptions): tikvpb.TikvServer {
  const { handlers, txnHandlers: txn } = options;
  return {
    kvGet: unary((request) => txn.kvGet(request)),
    kvScan: unary((request) => txn.kvScan(request)),
    kvPrewrite: unary((request) => txn.kvPrewrite(request)),
    kvPessimisticLock: unary((request) => txn.kvPessimisticLock(request)),
    kvPessimisticRollback: unary((request) => txn.kvPessimisticRollback(request)),
    kvTxnHeartBeat: unary((request) => txn.kvTxnHeartBeat(request)),
    kvCheckTxnStatus: unary((request) => txn.kvCheckTxnStatus(request)),
    kvCommit: unary((request) => txn.kvCommit(request)),
    kvCleanup: unary((request) => txn.kvCleanup(request)),
    kvBatchGet: unary((request) => txn.kvBatchGet(request)),
    kvBatchRollback: unary((request) => txn.kvBatchRollback(request)),
    kvScanLock: unary((request) => txn.kvScanLock(request)),
    kvResolveLock: unary((request) => txn.kvResolveLock(request)),
    kvGc: unary((request) => txn.kvGc(request)),
    kvCheckSecondaryLocks: unary((request) => txn.kvCheckSecondaryLocks(request)),
    kvDeleteRange: unary((request) => txn.kvDeleteRange(request)),
    unsafeDestroyRange: unary((request) => txn.unsafeDestroyRange(request)),
    mvccGetByKey: unary((request) => txn.mvccGetByKey(request)),
    rawGet: unary((request) => handlers.rawGet(request)),
    rawBatchGet: unary((request) => handlers.rawBatchGet(request)),
    rawPut: unary((request) => handlers.rawPut(request)),
    rawBatchPut: unary((request) => handlers.rawBatchPut(request)),
    rawDelete: unary((request) => handlers.rawDelete(request)),
    rawBatchDelete: unary((request) => handlers.rawBatchDelete(request)),
    rawScan: unary((request) => handlers.rawScan(request)),
    rawDeleteRange: unary((request) => handlers.rawDeleteRange(request)),
    rawCompareAndSwap: unary((request) => handlers.rawCompareAndSwap(request)),
    splitRegion: splitRegionRpc(options),
    raft: options.raftReceiver.raft,
    batchRaft: options.raftReceiver.batchRaft,
    snapshot: options.snapshot,
    batchCommands: createBatchCommandsHandler({
      handlers,
      txnHandlers: txn,
      maxInFlight: options.batchCommandsMaxInFlight,
      metrics: options.metrics,
      logger: options.logger,
    }),
  };
}

/** Handlers answer every failure in the response; one that rejects anyway is a bug, answered INTERNAL. */
function unary<Request, Response>(
  handle: (request: Request) => Promise<Response>,
): (call: ServerUnaryCall<Request, Response>, callback: sendUnaryData<Response>) => void {
  return (call, callback) => {
    void handle(call.request).then(
      (response) => callback(null, response),
      (error: unknown) => callback({ code: status.INTERNAL, details: describeFailure(error) }),
    );
  };
}

/**
 * Splits the request's region at the given keys (pd's split-region operator and `ctl` use it). A malformed
 * request is answered INVALID_ARGUMENT: the response has no error text, and a bare region error would make
 * clients retry a request that can never succeed.
 */
function splitRegionRpc(options: TikvServiceOptions): tikvpb.TikvServer["splitRegion"] {
  const { store, limits, metrics, logger } = options;
  return (call, callback) => {
    const request: kvrpcpb.SplitRegionRequest = call.request;
    const run = async (): Promise<void> => {
      try {
        const context = checkContext(request.context, store.storeId);
        checkSplitKeys(request.splitKeys, limits);
        const regions = await store.splitRegion(context.regionId, request.splitKeys);
        metrics.requests.inc({ type: "split_region", outcome: "ok" });
        callback(null, { regionError: undefined, regions });
      } catch (error) {
        const regionError = toRegionErrorProto(error);
        if (regionError !== undefined) {
          metrics.requests.inc({ type: "split_region", outcome: "region_error" });
          callback(null, { regionError, regions: [] });
          return;
        }
        metrics.requests.inc({ type: "split_region", outcome: "error" });
        if (!(error instanceof InvalidRequestError)) logger.warn({ err: error }, "split region failed");
        const code = error instanceof InvalidRequestError ? status.INVALID_ARGUMENT : status.INTERNAL;
        callback({ code, details: `SplitRegion: ${describeFailure(error)}` });
      }
    };
    void run();
  };
}
