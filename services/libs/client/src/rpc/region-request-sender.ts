/**
 * Sends one command to one region and follows the region's errors (TiKV client's RegionRequestSender):
 *
 *   NotLeader with a hint   → switch to the hinted leader, retry at once
 *   NotLeader without one   → drop the region, back off regionMiss, relocate
 *   EpochNotMatch           → cache the regions the store returned, relocate at once
 *   RegionNotFound          → drop the region, back off regionMiss, relocate
 *   ServerIsBusy            → back off serverBusy (outside the budget), retry the same peer
 *   StaleCommand            → back off staleCmd, retry
 *   store unreachable       → mark the store failed (next peer, re-resolve its address), back off tikvRPC
 *   timeout                 → drop only this region's route (pd may know a new leader), back off tikvRPC;
 *                             the store is NOT marked failed: slow is not dead (seed 000)
 *
 * "Relocate" hands the request back to the caller: the region's range may have changed, so the caller
 * re-locates its keys (a batch may now span two regions) and sends again with the same retry state.
 *
 * Only reads are resent after a failure that leaves open whether the store ran the request (a timeout
 * after sending, a stream broken after sending, StaleCommand). A write is not, even an idempotent put:
 * if the first attempt did apply, the resend applies it a second time, later, over writes other clients
 * made in between, and no single moment explains what readers saw (a chaos run caught exactly that). Such
 * a write rejects with UnknownOutcomeError instead, as etcd's client does for mutations.
 */
import { SpanKind } from "@opentelemetry/api";
import { activeTraceContext, isRecording, type Logger, withSpan } from "#observability";
import type { errorpb, kvrpcpb } from "#proto";
import { BackoffKinds } from "../backoff/backoff-kind.ts";
import type { KeyLocation } from "../region-cache/key-location.ts";
import type { RegionCache } from "../region-cache/region-cache.ts";
import type { ReplicaReadMode, RpcContext } from "../region-cache/rpc-context.ts";
import type { CommandCase, CommandRequest, CommandResponse } from "./batch-command.ts";
import { RegionCacheMissError, RegionRequestError } from "./region-errors.ts";
import type { RegionRetry } from "./region-retry.ts";
import type { RpcClient } from "./rpc-client.ts";
import {
  RpcQueueFullError,
  RpcTimeoutError,
  StoreUnavailableError,
  UnknownOutcomeError,
} from "./rpc-errors.ts";

function mayHaveRun(error: unknown): error is StoreUnavailableError | RpcTimeoutError {
  return (
    (error instanceof StoreUnavailableError && error.mayHaveRun) ||
    (error instanceof RpcTimeoutError && error.sent)
  );
}

/** Commands addressed to a region (every one but the stream's `empty` probe). */
export type RegionCommandCase = Exclude<CommandCase, "empty">;

const READ_COMMANDS: ReadonlySet<RegionCommandCase> = new Set<RegionCommandCase>([
  "rawGet",
  "rawBatchGet",
  "rawScan",
  "get",
  "batchGet",
  "scan",
  "scanLock",
]);

/** Whether resending after an unknown outcome is safe: a read changes nothing however often it runs. */
function isRepeatable(command: RegionCommandCase): boolean {
  return READ_COMMANDS.has(command);
}

export type RegionSendResult<Case extends RegionCommandCase> =
  | { readonly kind: "answered"; readonly response: CommandResponse<Case>; readonly context: RpcContext }
  | { readonly kind: "relocate" };

export interface RegionRequestSenderOptions {
  readonly regionCache: RegionCache;
  readonly rpc: RpcClient;
  /** Deadline of each attempt. */
  readonly timeoutMs: number;
  readonly logger?: Logger;
}

type RegionErrorAction = "retry" | "relocate";

type AttemptResult<Case extends RegionCommandCase> =
  | { readonly kind: "answered"; readonly response: CommandResponse<Case> }
  | { readonly kind: "retry" }
  | { readonly kind: "relocate" };

export class RegionRequestSender {
  constructor(private readonly options: RegionRequestSenderOptions) {}

  /**
   * Sends the command built by `build` (given the kv context of the peer chosen) to `location`'s region
   * until a store answers without a region error, or the caller must relocate. Throws the backoffer's
   * budget error, RaftEntryTooLarge as a RegionRequestError, UnknownOutcomeError for a write that may
   * have run, and RPC errors no retry can fix.
   */
  async send<Case extends RegionCommandCase>(
    location: KeyLocation,
    command: Case,
    build: (context: kvrpcpb.Context) => CommandRequest<Case>,
    retry: RegionRetry,
    replicaRead: ReplicaReadMode = "leader",
    /** Deadline of each attempt, when this command may legitimately run longer (a lock wait). */
    timeoutMs: number = this.options.timeoutMs,
  ): Promise<RegionSendResult<Case>> {
    const repeatable = isRepeatable(command);
    // Each round either answers, relocates, or backs off / free-retries, which the retry state bounds.
    for (;;) {
      const context = await this.options.regionCache.getRpcContext(location.region, replicaRead);
      if (context === undefined) {
        await retry.backoff(BackoffKinds.regionMiss, new RegionCacheMissError(location.region));
        return { kind: "relocate" };
      }
      const attempt = await this.attempt(context, command, build, retry, repeatable, timeoutMs);
      if (attempt.kind === "relocate") return attempt;
      if (attempt.kind === "retry") continue;
      const response = attempt.response;
      // Every response of a region command carries the region_error field.
      const regionError = (response as { readonly regionError?: errorpb.Error }).regionError;
      if (regionError === undefined) return { kind: "answered", response, context };
      const cause = new RegionRequestError({
        regionId: context.region.id,
        storeId: context.storeId,
        address: context.address,
        regionError,
      });
      // The store stopped waiting for the proposal (its leader stepped down), but the entry may still
      // commit under the next leader: for a write that is an unknown outcome, not a refusal.
      if (!repeatable && cause.kind === "staleCommand") throw new UnknownOutcomeError(command, cause);
      const action = await this.onRegionError(context, cause, retry);
      if (action === "relocate") return { kind: "relocate" };
    }
  }

  private async attempt<Case extends RegionCommandCase>(
    context: RpcContext,
    command: Case,
    build: (context: kvrpcpb.Context) => CommandRequest<Case>,
    retry: RegionRetry,
    repeatable: boolean,
    timeoutMs: number,
  ): Promise<AttemptResult<Case>> {
    const cache = this.options.regionCache;
    try {
      const response = await this.call(context, command, build, timeoutMs);
      return { kind: "answered", response };
    } catch (error) {
      if (!repeatable && mayHaveRun(error)) {
        if (error instanceof StoreUnavailableError) cache.onSendFail(context, error);
        else cache.invalidateRegion(context.region);
        throw new UnknownOutcomeError(command, error);
      }
      if (error instanceof StoreUnavailableError) {
        cache.onSendFail(context, error);
        await retry.backoff(BackoffKinds.tikvRPC, error);
        return { kind: "retry" };
      }
      if (error instanceof RpcTimeoutError) {
        cache.invalidateRegion(context.region);
        await retry.backoff(BackoffKinds.tikvRPC, error);
        return { kind: "relocate" };
      }
      if (error instanceof RpcQueueFullError) {
        await retry.backoff(BackoffKinds.tikvRPC, error);
        return { kind: "retry" };
      }
      throw error;
    }
  }

  /**
   * One attempt is one client span; the request carries that span's context so the store's span joins
   * the caller's trace (stream metadata cannot, see `trace_context` in kvrpcpb.Context). An untraced
   * call (tracing off, or its operation not sampled) skips the span: this runs for every request.
   */
  private call<Case extends RegionCommandCase>(
    context: RpcContext,
    command: Case,
    build: (context: kvrpcpb.Context) => CommandRequest<Case>,
    timeoutMs: number,
  ): Promise<CommandResponse<Case>> {
    const options = { timeoutMs };
    if (!isRecording())
      return this.options.rpc.call(context.address, command, build(context.kvContext), options);
    const attributes = {
      "tessera.region_id": context.region.id.toString(),
      "tessera.store_id": context.storeId.toString(),
      "server.address": context.address,
    };
    return withSpan(
      `tikvclient.rpc.${command}`,
      attributes,
      () => {
        const kvContext = { ...context.kvContext, traceContext: activeTraceContext() };
        return this.options.rpc.call(context.address, command, build(kvContext), options);
      },
      SpanKind.CLIENT,
    );
  }

  private async onRegionError(
    context: RpcContext,
    cause: RegionRequestError,
    retry: RegionRetry,
  ): Promise<RegionErrorAction> {
    const cache = this.options.regionCache;
    this.options.logger?.debug(
      { regionId: context.region.id, storeId: context.storeId, err: cause },
      "region error",
    );
    const detail = cause.detail;
    switch (detail?.kind) {
      case "notLeader":
        // Only a hint naming a peer the cache knows switches; without one the region is dropped.
        if (cache.onNotLeader(context, detail.leader) === "switched") {
          await retry.freeRetry(cause);
          return "retry";
        }
        await retry.backoff(BackoffKinds.regionMiss, cause);
        return "relocate";
      case "epochNotMatch":
        cache.onEpochNotMatch(context, detail.currentRegions);
        await retry.freeRetry(cause);
        return "relocate";
      case "serverIsBusy":
        await retry.backoff(BackoffKinds.serverBusy, cause);
        return "retry";
      case "staleCommand":
        await retry.backoff(BackoffKinds.staleCmd, cause);
        return "retry";
      case "regionNotInitialized":
      case "readIndexNotReady":
        await retry.backoff(BackoffKinds.regionMiss, cause);
        return "retry";
      case "storeNotMatch":
        // Our address for the store now reaches another store: re-resolve it like an unreachable one.
        cache.onSendFail(context, cause);
        await retry.backoff(BackoffKinds.regionMiss, cause);
        return "relocate";
      case "raftEntryTooLarge":
        throw cause;
      case "regionNotFound":
        cache.onRegionNotFound(context.region);
        await retry.backoff(BackoffKinds.regionMiss, cause);
        return "relocate";
      case "keyNotInRegion":
      case "mismatchPeerId":
      case undefined:
        cache.invalidateRegion(context.region);
        await retry.backoff(BackoffKinds.regionMiss, cause);
        return "relocate";
    }
  }
}
