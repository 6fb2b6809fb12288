/**
 * One request from the moment `send` accepts it until it is answered, fails or times out. It is held by
 * exactly one owner at a time (the pool's queue, then one stream's in-flight table); whoever settles it
 * first wins and the others find it settled, so a late answer after a timeout, or a stream failure after an
 * answer, can never settle it twice.
 */
import type { tikvpb } from "#proto";
import type { TimerHandle, Timers } from "#runtime";
import { RpcTimeoutError } from "./rpc-errors.ts";

/** Where a pending request currently sits; told to drop it when its deadline passes. */
export interface PendingRequestOwner {
  forget(request: PendingRequest): void;
}

export class PendingRequest {
  readonly command: string;
  owner: PendingRequestOwner | undefined;
  sent = false;
  private settled = false;
  private deadline: TimerHandle | undefined;

  constructor(
    readonly id: bigint,
    readonly address: string,
    readonly request: tikvpb.BatchCommandsRequest_Request,
    private readonly callbacks: {
      readonly resolve: (response: tikvpb.BatchCommandsResponse_Response) => void;
      readonly reject: (error: Error) => void;
    },
  ) {
    this.command = request.cmd?.$case ?? "none";
  }

  armDeadline(timers: Timers, timeoutMs: number): void {
    this.deadline = timers.setTimeout(() => {
      const owner = this.owner;
      const error = new RpcTimeoutError({
        address: this.address,
        command: this.command,
        timeoutMs,
        sent: this.sent,
      });
      if (this.settle()) {
        owner?.forget(this);
        this.callbacks.reject(error);
      }
    }, timeoutMs);
  }

  resolve(response: tikvpb.BatchCommandsResponse_Response): void {
    if (this.settle()) this.callbacks.resolve(response);
  }

  reject(error: Error): void {
    if (this.settle()) this.callbacks.reject(error);
  }

  private settle(): boolean {
    if (this.settled) return false;
    this.settled = true;
    this.owner = undefined;
    this.deadline?.cancel();
    this.deadline = undefined;
    return true;
  }
}
