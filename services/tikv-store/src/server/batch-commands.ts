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
import { tikvpb } from "#proto";
import type { RawKvHandlers } from "./raw-kv-handlers.ts";
import type { GrpcMetrics } from "./server-metrics.ts";

export interface BatchCommandsOptions {
  readonly handlers: RawKvHandlers;
  /** `server.batch-commands-max-in-flight`. */
  readonly maxInFlight: number;
  readonly metrics: GrpcMetrics;
  readonly logger: Logger;
}

type Command = NonNullable<tikvpb.BatchCommandsRequest_Request["cmd"]>;
type TransactionalCase = Exclude<Command["$case"], `raw${string}` | "empty">;

/** Transactional commands answer in the field their response has for key errors. */
const TRANSACTIONAL_ERROR_FIELD: Readonly<Record<TransactionalCase, "error" | "errors">> = {
  get: "error",
  scan: "error",
  prewrite: "errors",
  pessimisticLock: "errors",
  pessimisticRollback: "errors",
  txnHeartBeat: "error",
  checkTxnStatus: "error",
  commit: "error",
  cleanup: "error",
  batchGet: "error",
  batchRollback: "error",
  scanLock: "error",
  resolveLock: "error",
  gc: "error",
  checkSecondaryLocks: "error",
  deleteRange: "error",
  unsafeDestroyRange: "error",
};

export const TRANSACTIONS_UNIMPLEMENTED =
  "transactional commands are not implemented by this store yet; only raw key-value requests are served";

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
    void withRemoteParent(traceContext, spanName, {}, () => execute(this.options.handlers, request)).then(
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
  handlers: RawKvHandlers,
  request: tikvpb.BatchCommandsRequest_Request,
): Promise<tikvpb.BatchCommandsResponse_Response> {
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
    default:
      return unimplementedTransactional(cmd.$case);
  }
}

function unimplementedTransactional(kind: TransactionalCase): tikvpb.BatchCommandsResponse_Response {
  const keyError = { abort: TRANSACTIONS_UNIMPLEMENTED };
  const value = TRANSACTIONAL_ERROR_FIELD[kind] === "error" ? { error: keyError } : { errors: [keyError] };
  // Each transactional response type has the field chosen above; the cast only joins the union of cases.
  return tikvpb.BatchCommandsResponse_Response.fromPartial({
    cmd: { $case: kind, value },
  } as tikvpb.DeepPartial<tikvpb.BatchCommandsResponse_Response>);
}
