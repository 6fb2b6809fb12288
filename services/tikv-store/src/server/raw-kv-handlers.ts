/**
 * The raw key-value requests, one method per RPC: validate (request-validation.ts), call the store,
 * build the response. Shared by the unary RPCs and the BatchCommands stream, so both answer identically.
 *
 * A handler never rejects: a region error becomes `region_error`, any other failure the response's
 * `error` text — or, for responses without one (RawBatchGet, RawScan), a single pair whose KeyError
 * says why, as TiKV does — and is counted per RPC and outcome.
 */
import type { Logger } from "#observability";
import { type errorpb, kvrpcpb } from "#proto";
import type { Clock } from "#runtime";
import { describeFailure } from "./region-errors.ts";
import { type RequestRunnerOptions, type ResponseType, runRequest } from "./request-runner.ts";
import {
  checkBatch,
  checkContext,
  checkEntrySize,
  checkKey,
  checkRange,
  effectiveScanLimit,
  type RequestLimits,
} from "./request-validation.ts";
import type { RawMutation, ServedStore } from "./served-store.ts";
import type { GrpcMetrics } from "./server-metrics.ts";

export interface RawKvHandlersOptions {
  readonly store: ServedStore;
  readonly limits: RequestLimits;
  readonly metrics: GrpcMetrics;
  readonly clock: Clock;
  readonly logger: Logger;
}

/** How a response of one type says it failed. */
type FailureShape<Response> = (
  regionError: errorpb.Error | undefined,
  message: string | undefined,
) => kvrpcpb.DeepPartial<Response>;

function inErrorText<Response extends { error: string }>(): FailureShape<Response> {
  return (regionError, message) => ({ regionError, error: message ?? "" }) as kvrpcpb.DeepPartial<Response>;
}

function asErrorPair(message: string | undefined): kvrpcpb.DeepPartial<kvrpcpb.KvPair>[] {
  return message === undefined ? [] : [{ error: { abort: message } }];
}

export class RawKvHandlers {
  private readonly runner: RequestRunnerOptions;

  constructor(private readonly options: RawKvHandlersOptions) {
    const { clock, logger, metrics } = options;
    this.runner = {
      clock,
      logger,
      record: (type, outcome, seconds) => {
        metrics.requests.inc({ type, outcome });
        metrics.requestDuration.observe({ type }, seconds);
      },
    };
  }

  rawGet(request: kvrpcpb.RawGetRequest): Promise<kvrpcpb.RawGetResponse> {
    return this.run<kvrpcpb.RawGetResponse>("raw_get", kvrpcpb.RawGetResponse, inErrorText(), async () => {
      const context = this.context(request.context);
      checkKey(request.key, this.options.limits);
      const value = await this.options.store.read(context, { kind: "keys", keys: [request.key] }, (reader) =>
        reader.get(request.key),
      );
      return value === undefined ? { notFound: true } : { value };
    });
  }

  rawBatchGet(request: kvrpcpb.RawBatchGetRequest): Promise<kvrpcpb.RawBatchGetResponse> {
    const failure: FailureShape<kvrpcpb.RawBatchGetResponse> = (regionError, message) => ({
      regionError,
      pairs: asErrorPair(message),
    });
    return this.run<kvrpcpb.RawBatchGetResponse>(
      "raw_batch_get",
      kvrpcpb.RawBatchGetResponse,
      failure,
      async () => {
        const context = this.context(request.context);
        checkBatch(request.keys, [], this.options.limits);
        const values = await this.options.store.read(
          context,
          { kind: "keys", keys: request.keys },
          (reader) => reader.batchGet(request.keys),
        );
        const pairs = request.keys.flatMap((key, index) => {
          const value = values[index];
          return value === undefined ? [] : [{ key, value }];
        });
        return { pairs };
      },
    );
  }

  rawPut(request: kvrpcpb.RawPutRequest): Promise<kvrpcpb.RawPutResponse> {
    return this.run<kvrpcpb.RawPutResponse>("raw_put", kvrpcpb.RawPutResponse, inErrorText(), async () => {
      const context = this.context(request.context);
      checkKey(request.key, this.options.limits);
      checkEntrySize(request.key.length + request.value.length, this.options.limits, context.regionId);
      await this.options.store.write(context, [{ type: "put", key: request.key, value: request.value }]);
      return {};
    });
  }

  rawBatchPut(request: kvrpcpb.RawBatchPutRequest): Promise<kvrpcpb.RawBatchPutResponse> {
    return this.run<kvrpcpb.RawBatchPutResponse>(
      "raw_batch_put",
      kvrpcpb.RawBatchPutResponse,
      inErrorText(),
      async () => {
        const context = this.context(request.context);
        const keys = request.pairs.map((pair) => pair.key);
        const sizeBytes = checkBatch(
          keys,
          request.pairs.map((pair) => pair.value),
          this.options.limits,
        );
        checkEntrySize(sizeBytes, this.options.limits, context.regionId);
        const mutations: RawMutation[] = request.pairs.map((pair) => ({
          type: "put",
          key: pair.key,
          value: pair.value,
        }));
        await this.options.store.write(context, mutations);
        return {};
      },
    );
  }

  rawDelete(request: kvrpcpb.RawDeleteRequest): Promise<kvrpcpb.RawDeleteResponse> {
    return this.run<kvrpcpb.RawDeleteResponse>(
      "raw_delete",
      kvrpcpb.RawDeleteResponse,
      inErrorText(),
      async () => {
        const context = this.context(request.context);
        checkKey(request.key, this.options.limits);
        await this.options.store.write(context, [{ type: "delete", key: request.key }]);
        return {};
      },
    );
  }

  rawBatchDelete(request: kvrpcpb.RawBatchDeleteRequest): Promise<kvrpcpb.RawBatchDeleteResponse> {
    return this.run<kvrpcpb.RawBatchDeleteResponse>(
      "raw_batch_delete",
      kvrpcpb.RawBatchDeleteResponse,
      inErrorText(),
      async () => {
        const context = this.context(request.context);
        const sizeBytes = checkBatch(request.keys, [], this.options.limits);
        checkEntrySize(sizeBytes, this.options.limits, context.regionId);
        await this.options.store.write(
          context,
          request.keys.map((key) => ({ type: "delete", key })),
        );
        return {};
      },
    );
  }

  rawScan(request: kvrpcpb.RawScanRequest): Promise<kvrpcpb.RawScanResponse> {
    const failure: FailureShape<kvrpcpb.RawScanResponse> = (regionError, message) => ({
      regionError,
      kvs: asErrorPair(message),
    });
    return this.run<kvrpcpb.RawScanResponse>("raw_scan", kvrpcpb.RawScanResponse, failure, async () => {
      const context = this.context(request.context);
      const { limits, store } = this.options;
      // Forward scans cover [start, end); reverse scans [end, start), largest key first.
      const [lowerKey, upperKey] = request.reverse
        ? [request.endKey, request.startKey]
        : [request.startKey, request.endKey];
      checkRange(lowerKey, upperKey, limits, { reverse: request.reverse });
      const scan = {
        startKey: lowerKey,
        endKey: upperKey,
        limit: effectiveScanLimit(request.limit, limits),
        reverse: request.reverse,
        keyOnly: request.keyOnly,
      };
      // The store checks the scan's anchor (its first key, or a reverse scan's exclusive upper bound) lies
      // in the region; the reader clips the rest of the range to the region.
      const anchor = { kind: "scan", key: request.startKey, reverse: request.reverse } as const;
      const pairs = await store.read(context, anchor, (reader) => reader.scan(scan));
      return {
        kvs: pairs.map((pair) => ({ key: pair.key, value: request.keyOnly ? undefined : pair.value })),
      };
    });
  }

  rawDeleteRange(request: kvrpcpb.RawDeleteRangeRequest): Promise<kvrpcpb.RawDeleteRangeResponse> {
    return this.run<kvrpcpb.RawDeleteRangeResponse>(
      "raw_delete_range",
      kvrpcpb.RawDeleteRangeResponse,
      inErrorText(),
      async () => {
        const context = this.context(request.context);
        checkRange(request.startKey, request.endKey, this.options.limits);
        await this.options.store.write(context, [
          { type: "delete-range", startKey: request.startKey, endKey: request.endKey },
        ]);
        return {};
      },
    );
  }

  rawCompareAndSwap(request: kvrpcpb.RawCompareAndSwapRequest): Promise<kvrpcpb.RawCompareAndSwapResponse> {
    return this.run<kvrpcpb.RawCompareAndSwapResponse>(
      "raw_compare_and_swap",
      kvrpcpb.RawCompareAndSwapResponse,
      inErrorText(),
      async () => {
        const context = this.context(request.context);
        const { limits, store } = this.options;
        checkKey(request.key, limits);
        const sizeBytes = request.key.length + request.value.length + request.previousValue.length;
        checkEntrySize(sizeBytes, limits, context.regionId);
        const result = await store.compareAndSwap(context, {
          key: request.key,
          value: request.value,
          previousValue: request.previousNotExist ? undefined : request.previousValue,
        });
        return {
          succeed: result.succeeded,
          previousValue: result.previousValue,
          previousNotExist: result.previousValue === undefined,
        };
      },
    );
  }

  private context(context: kvrpcpb.Context | undefined): kvrpcpb.Context {
    return checkContext(context, this.options.store.storeId);
  }

  /** Runs one request, turning every failure into its response form, and records its metrics. */
  run<Response>(
    type: string,
    responseType: ResponseType<Response>,
    failure: FailureShape<Response>,
    work: () => Promise<kvrpcpb.DeepPartial<Response>>,
  ): Promise<Response> {
    return runRequest(this.runner, {
      type,
      responseType,
      work,
      failure: (regionError, error) => ({
        partial: failure(regionError, regionError === undefined ? describeFailure(error) : undefined),
        outcome: regionError === undefined ? "error" : "region_error",
      }),
    });
  }
}
