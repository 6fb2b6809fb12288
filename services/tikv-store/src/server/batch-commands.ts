/**
 * The `BatchCommands` stream: clients multiplex many requests on one bidirectional stream, each tagged
 * with an id; the answer with the same id comes back whenever it is ready, in any order.
 *
 * Requests of a stream run concurrently, up to `maxInFlight`; at the bound the stream stops reading
 * (gRPC flow control then holds the client back) until some finish, so one client cannot queue unbounded
 * work on the store. Answers finished in the same event-loop turn go out as one response message.
 */
import { type handleBidiStreamingCall, type ServerDuplexStream, status } from "@grpc/grpc-js";
import { type Logger, withRemoteParent } from "#observability";
import type { tikvpb } from "#proto";
import type { RawKvHandlers } from "./raw-kv-handlers.ts";
import type { GrpcMetrics } from "./server-metrics.ts";
import type { TxnKvHandlers } from "./txn-kv-handlers.ts";

export interface BatchCommandsOptions {
  readonly handlers: RawKvHandlers;
  readonly txnHandlers: TxnKvHandlers;
  /** `server.batch-commands-max-in-flight`. */
  readonly maxInFlight: number;
  readonly metrics: GrpcMetrics;
  readonly logger: Logger;
}

export function createBatchCommandsHandler(
  options: BatchCommandsOptions,
): handleBidiStreamingCall<tikvpb.BatchCommandsRequest, tikvpb.BatchCommandsResponse> {
  return (call) => new BatchCommandsStream(call, options).start();
}

class BatchCommandsStream {
  private inFlight = 0;
  private paused = false;
  private clientDone = false;
  private closed = false;
  private readonly readyIds: bigint[] = [];
  private readonly readyResponses: tikvpb.BatchCommandsResponse_Response[] = [];
  private flushScheduled = false;

  constructor(
    private readonly call: ServerDuplexStream<tikvpb.BatchCommandsRequest, tikvpb.BatchCommandsResponse>,
    private readonly options: BatchCommandsOptions,
  ) {}

  start(): void {
    this.call.on("data", (batch: tikvpb.BatchCommandsRequest) => this.accept(batch));
    this.call.on("end", () => {
      this.clientDone = true;
      this.endIfDrained();
    });
    this.call.on("error", () => this.abandon());
    this.call.on("cancelled", () => this.abandon());
  }

  private accept(batch: tikvpb.BatchCommandsRequest): void {
    if (this.closed) return;
    if (batch.requestIds.length !== batch.requests.length) {
      // Without one id per request some answers could not be matched: a client bug, failed loudly.
      this.abandon();
      this.call.emit("error", {
        code: status.INVALID_ARGUMENT,
        details: `BatchCommands: ${batch.requests.length} requests but ${batch.requestIds.length} request ids`,
      });
      return;
    }
    batch.requests.forEach((request, index) => {
      this.begin(batch.requestIds[index]!, request);
    });
    if (this.inFlight >= this.options.maxInFlight && !this.paused) {
      this.paused = true;
      this.call.pause();
    }
  }

  private begin(id: bigint, request: tikvpb.BatchCommandsRequest_Request): void {
    this.inFlight++;
    this.options.metrics.batchCommandsInFlight.inc();
    const cmd = request.cmd;
    // Each request is its own server span under the caller's (the stream itself is not traced).
    const traceContext =
      cmd === undefined || cmd.$case === "empty" ? "" : (cmd.value.context?.traceContext ?? "");
    const spanName = `tikv.batch_commands.${cmd?.$case}`;
    void withRemoteParent(traceContext, spanName, {}, () => execute(this.options, request)).then(
      (response) => this.finish(id, response),
      (error: unknown) => {
        // Handlers never reject; reaching this is a bug, but the client still gets an answer for its id.
        this.options.logger.error({ err: error }, "BatchCommands request failed unexpectedly");
        this.finish(id, { cmd: undefined });
      },
    );
  }

  private finish(id: bigint, response: tikvpb.BatchCommandsResponse_Response): void {
    this.inFlight--;
    this.options.metrics.batchCommandsInFlight.dec();
    if (this.closed) return;
    this.readyIds.push(id);
    this.readyResponses.push(response);
    if (this.paused && this.inFlight < this.options.maxInFlight) {
      this.paused = false;
      this.call.resume();
    }
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
  }

  private flush(): void {
    this.flushScheduled = false;
    if (this.closed || this.readyIds.length === 0) return;
    this.call.write({
      requestIds: this.readyIds.splice(0),
      responses: this.readyResponses.splice(0),
      transportLayerLoad: BigInt(this.inFlight),
    });
    this.endIfDrained();
  }

  private endIfDrained(): void {
    if (this.closed || !this.clientDone || this.inFlight > 0 || this.readyIds.length > 0) return;
    this.closed = true;
    this.call.end();
  }

  /** The client went away: answers still running are dropped when they finish. */
  private abandon(): void {
    this.closed = true;
  }
}

async function execute(
  options: BatchCommandsOptions,
  request: tikvpb.BatchCommandsRequest_Request,
): Promise<tikvpb.BatchCommandsResponse_Response> {
  const { handlers, txnHandlers: txn } = options;
  const cmd = request.cmd;
  // Nothing asked, nothing answered but the id, so the client's slot is freed.
  if (cmd === undefined) return { cmd: undefined };
  switch (cmd.$case) {
    case "empty":
      return { cmd: { $case: "empty", value: { testId: cmd.value.testId } } };
    case "rawGet":
      return { cmd: { $case: cmd.$case, value: await handlers.rawGet(cmd.value) } };
    case "rawBatchGet":
      return { cmd: { $case: cmd.$case, value: await handlers.rawBatchGet(cmd.value) } };
    case "rawPut":
      return { cmd: { $case: cmd.$case, value: await handlers.rawPut(cmd.value) } };
    case "rawBatchPut":
      return { cmd: { $case: cmd.$case, value: await handlers.rawBatchPut(cmd.value) } };
    case "rawDelete":
      return { cmd: { $case: cmd.$case, value: await handlers.rawDelete(cmd.value) } };
    case "rawBatchDelete":
      return { cmd: { $case: cmd.$case, value: await handlers.rawBatchDelete(cmd.value) } };
    case "rawScan":
      return { cmd: { $case: cmd.$case, value: await handlers.rawScan(cmd.value) } };
    case "rawDeleteRange":
      return { cmd: { $case: cmd.$case, value: await handlers.rawDeleteRange(cmd.value) } };
    case "rawCompareAndSwap":
      return { cmd: { $case: cmd.$case, value: await handlers.rawCompareAndSwap(cmd.value) } };
    case "get":
      return { cmd: { $case: cmd.$case, value: await txn.kvGet(cmd.value) } };
    case "scan":
      return { cmd: { $case: cmd.$case, value: await txn.kvScan(cmd.value) } };
    case "batchGet":
      return { cmd: { $case: cmd.$case, value: await txn.kvBatchGet(cmd.value) } };
    case "prewrite":
      return { cmd: { $case: cmd.$case, value: await txn.kvPrewrite(cmd.value) } };
    case "commit":
      return { cmd: { $case: cmd.$case, value: await txn.kvCommit(cmd.value) } };
    case "pessimisticLock":
      return { cmd: { $case: cmd.$case, value: await txn.kvPessimisticLock(cmd.value) } };
    case "pessimisticRollback":
      return { cmd: { $case: cmd.$case, value: await txn.kvPessimisticRollback(cmd.value) } };
    case "txnHeartBeat":
      return { cmd: { $case: cmd.$case, value: await txn.kvTxnHeartBeat(cmd.value) } };
    case "checkTxnStatus":
      return { cmd: { $case: cmd.$case, value: await txn.kvCheckTxnStatus(cmd.value) } };
    case "cleanup":
      return { cmd: { $case: cmd.$case, value: await txn.kvCleanup(cmd.value) } };
    case "batchRollback":
      return { cmd: { $case: cmd.$case, value: await txn.kvBatchRollback(cmd.value) } };
    case "scanLock":
      return { cmd: { $case: cmd.$case, value: await txn.kvScanLock(cmd.value) } };
    case "resolveLock":
      return { cmd: { $case: cmd.$case, value: await txn.kvResolveLock(cmd.value) } };
    case "gc":
      return { cmd: { $case: cmd.$case, value: await txn.kvGc(cmd.value) } };
    case "checkSecondaryLocks":
      return { cmd: { $case: cmd.$case, value: await txn.kvCheckSecondaryLocks(cmd.value) } };
    case "deleteRange":
      return { cmd: { $case: cmd.$case, value: await txn.kvDeleteRange(cmd.value) } };
    case "unsafeDestroyRange":
      return { cmd: { $case: cmd.$case, value: await txn.unsafeDestroyRange(cmd.value) } };
    default:
      return cmd satisfies never;
  }
}
