/**
 * The store's `deadlock.Deadlock` gRPC service: other stores' detector clients stream wait-for edges to
 * the detector here. Every store serves it; a store that does not run the detector answers each DETECT
 * with NOT_LEADER (the client then looks the detector up again) and ignores clean-ups.
 *
 * The detector answers synchronously, so a stream's answers leave in request order with no work queued.
 * When the client stops reading, the stream stops reading too until its answers drain, so a stream holds
 * at most one buffered window of answers.
 */
import { type ServerDuplexStream, status } from "@grpc/grpc-js";
import type { Logger } from "#observability";
import { deadlock } from "#proto";
import type { DeadlockDetector, DetectorAnswer } from "./detector.ts";

export interface DeadlockServiceOptions {
  readonly detector: DeadlockDetector;
  readonly logger: Logger;
}

type DetectCall = ServerDuplexStream<deadlock.DeadlockRequest, deadlock.DeadlockResponse>;

export function createDeadlockService(options: DeadlockServiceOptions): deadlock.DeadlockServer {
  const { detector } = options;
  return {
    detect: (call: DetectCall) => serveDetect(call, options),
    getWaitForEntries: (_call, callback) => {
      const entries = detector.entries();
      callback(null, { notLeader: entries === undefined, entries: entries ?? [] });
    },
  };
}

function serveDetect(call: DetectCall, options: DeadlockServiceOptions): void {
  const { detector, logger } = options;
  call.on("data", (request: deadlock.DeadlockRequest) => {
    // Requests read after the stream failed or was cancelled find nobody to answer; an edge added for
    // one would have no waiter to clean it up.
    if (!isWritable(call)) return;
    const problem = invalidRequest(request);
    if (problem !== undefined) {
      // A client of ours never sends this; a zero txn would even read as a transaction waiting for itself.
      // grpc-js turns an "error" event on a server stream into the call's final status.
      call.emit("error", { code: status.INVALID_ARGUMENT, details: problem });
      return;
    }
    const response = answer(detector, request);
    if (response !== undefined && !call.write(response)) {
      call.pause();
      call.once("drain", () => call.resume());
    }
  });
  call.on("end", () => {
    if (isWritable(call)) call.end();
  });
  // A client store that goes away (restart, network) is normal; its edges expire in the detector.
  call.on("error", (error: unknown) => logger.debug({ err: error }, "deadlock detect stream ended"));
}

function answer(
  detector: DeadlockDetector,
  request: deadlock.DeadlockRequest,
): deadlock.DeadlockResponse | undefined {
  const entry = request.entry!;
  switch (request.type) {
    case deadlock.DeadlockRequestType.DETECT:
      return toResponse(request.requestId, entry, detector.detect(entry));
    case deadlock.DeadlockRequestType.CLEAN_UP_WAIT_FOR:
      detector.cleanUpWaitFor(entry);
      return undefined;
    case deadlock.DeadlockRequestType.CLEAN_UP:
      detector.cleanUp(entry.txn);
      return undefined;
  }
}

function toResponse(
  requestId: bigint,
  entry: deadlock.WaitForEntry,
  answer: DetectorAnswer,
): deadlock.DeadlockResponse {
  const response = deadlock.DeadlockResponse.fromPartial({ requestId });
  switch (answer.kind) {
    case "no-deadlock":
      return { ...response, result: deadlock.DetectResult.NO_DEADLOCK };
    case "not-leader":
      return { ...response, result: deadlock.DetectResult.NOT_LEADER };
    case "graph-full":
      return { ...response, result: deadlock.DetectResult.GRAPH_FULL };
    case "deadlock":
      return {
        ...response,
        result: deadlock.DetectResult.DEADLOCK,
        entry,
        deadlockKeyHash: answer.deadlockKeyHash,
        deadlockKey: answer.deadlockKey,
        waitChain: [...answer.waitChain],
      };
  }
}

function invalidRequest(request: deadlock.DeadlockRequest): string | undefined {
  const entry = request.entry;
  if (entry === undefined) return "a deadlock request needs an entry";
  if (entry.txn === 0n) return "a deadlock request needs the waiting transaction's start ts (txn)";
  const needsHolder = request.type !== deadlock.DeadlockRequestType.CLEAN_UP;
  if (needsHolder && entry.waitForTxn === 0n)
    return "a detect or wait-for clean-up needs the lock holder's start ts (wait_for_txn)";
  if (!Object.values(deadlock.DeadlockRequestType).includes(request.type))
    return `unknown deadlock request type ${request.type}`;
  return undefined;
}

function isWritable(call: DetectCall): boolean {
  return !call.cancelled && !call.writableEnded && !call.destroyed;
}
